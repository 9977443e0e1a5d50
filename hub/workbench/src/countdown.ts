// 倒计时 how long until a deadline, in the words an officer reads at a glance.

export interface Countdown {
  text: string;
  overdue: boolean;
  urgent: boolean; // less than an hour left
}

function span(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days > 0) return `${days}天${hours}小时`;
  if (hours > 0) return `${hours}小时${rest}分`;
  if (minutes > 0) return `${rest}分`;
  return `${Math.max(0, Math.floor(ms / 1000))}秒`;
}

export function countdown(due: string | null | undefined, now: Date): Countdown | null {
  if (!due) return null;
  const left = new Date(due).getTime() - now.getTime();
  if (Number.isNaN(left)) return null;
  if (left < 0) return { text: `已超时${span(-left)}`, overdue: true, urgent: true };
  return { text: `剩余${span(left)}`, overdue: false, urgent: left < 3_600_000 };
}
