import { describe, expect, it } from "vitest";
import { countdown } from "../countdown";

const now = new Date("2026-12-03T08:00:00+08:00");

describe("countdown", () => {
  it("says how long is left, urgent under an hour", () => {
    expect(countdown("2026-12-03T10:30:00+08:00", now)).toEqual({ text: "剩余2小时30分", overdue: false, urgent: false });
    expect(countdown("2026-12-03T08:45:00+08:00", now)).toEqual({ text: "剩余45分", overdue: false, urgent: true });
    expect(countdown("2026-12-05T09:00:00+08:00", now)?.text).toBe("剩余2天1小时");
  });
  it("says how long it is overdue, in red", () => {
    expect(countdown("2026-12-03T07:55:00+08:00", now)).toEqual({ text: "已超时5分", overdue: true, urgent: true });
  });
  it("speaks English when asked", () => {
    expect(countdown("2026-12-03T10:30:00+08:00", now, "en")?.text).toBe("2h 30min left");
    expect(countdown("2026-12-05T09:00:00+08:00", now, "en")?.text).toBe("2d 1h left");
    expect(countdown("2026-12-03T07:55:00+08:00", now, "en")?.text).toBe("overdue by 5min");
  });
  it("has nothing to count without a deadline", () => {
    expect(countdown(null, now)).toBeNull();
    expect(countdown("not a time", now)).toBeNull();
  });
});
