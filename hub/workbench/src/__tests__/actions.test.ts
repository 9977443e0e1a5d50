import { describe, expect, it } from "vitest";
import { eventBody, formProblem, needsForm, type ActionForm } from "../actions";

const blank = (): ActionForm => ({ reason: "", comment: "", rating: 5, reassignTo: [], linkedOrderId: "" });

describe("action forms", () => {
  it("asks for a reason to return, not file, reconsider, decline or deny", () => {
    for (const action of ["RETURNED", "NOT_FILED", "RECONSIDERATION", "DECLINED", "DENIED"]) {
      expect(needsForm(action)).toBe(true);
      expect(formProblem(action, blank())).toBe("请填写理由");
      expect(formProblem(action, { ...blank(), reason: "  " })).toBe("请填写理由");
      expect(formProblem(action, { ...blank(), reason: "不属于本单位职责" })).toBeNull();
    }
  });
  it("sends signing at once, with nothing to fill in", () => {
    expect(needsForm("SIGNED")).toBe(false);
    expect(eventBody("SIGNED", blank(), "WB-1")).toMatchObject({ event_type: "SIGNED", source_id: "WB-1" });
    expect(eventBody("SIGNED", blank(), "WB-1")).not.toHaveProperty("rating");
  });
  it("rates 1 to 5 and reassigns to someone", () => {
    expect(formProblem("EVALUATED", { ...blank(), rating: 0 })).toBe("请给出1至5分的评价");
    expect(eventBody("EVALUATED", { ...blank(), rating: 4, comment: "及时" }, "WB-2")).toMatchObject({ rating: 4, comment: "及时" });
    expect(formProblem("REASSIGNED", blank())).toBe("请选择改派的单位");
    expect(eventBody("REASSIGNED", { ...blank(), reassignTo: ["dept-water"] }, "WB-3").reassign_to).toEqual(["dept-water"]);
  });
  it("names the referral made", () => {
    expect(formProblem("REFERRED", blank())).toBe("请填写所作移送的派单编号");
    const id = "0b4a0d5e-1c2f-4e5a-9b1d-2f3a4b5c6d7e";
    expect(eventBody("REFERRED", { ...blank(), linkedOrderId: id }, "WB-4").linked_order_id).toBe(id);
  });
});
