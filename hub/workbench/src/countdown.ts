// 倒计时 how long until a deadline, in the words an officer reads at a glance.

export interface Countdown {
  text: string;
  overdue: boolean;
  urgent: boolean; // less than an hour left
}

const UNITS = { zh: ["天", "小时", "分", "秒"], en: ["d ", "h ", "min", "s"] };

function span(ms: number, lang: "zh" | "en"): string {
  const [d, h, m, s] = UNITS[lang];
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days > 0) return `${days}${d}${hours}${h}`.trim();
  if (hours > 0) return `${hours}${h}${rest}${m}`;
  if (minutes > 0) return `${rest}${m}`;
  return `${Math.max(0, Math.floor(ms / 1000))}${s}`;
}

export function countdown(due: string | null | undefined, now: Date, lang: "zh" | "en" = "zh"): Countdown | null {
  if (!due) return null;
  const left = new Date(due).getTime() - now.getTime();
  if (Number.isNaN(left)) return null;
  if (left < 0) {
    const late = span(-left, lang);
    return { text: lang === "zh" ? `已超时${late}` : `overdue by ${late}`, overdue: true, urgent: true };
  }
  const text = lang === "zh" ? `剩余${span(left, "zh")}` : `${span(left, "en")} left`;
  return { text, overdue: false, urgent: left < 3_600_000 };
}
