import { describe, expect, it } from "vitest";
import { completed, FORMS, formsFor } from "../forms";
import { bodyOf, emptyOf, emptyRecord, fieldsOf, labelOf, placeErrors } from "../schemaForm";

// The shapes the hub's document gives (hub/http/openapi.py from the pydantic models):
// $refs to components, optional objects as anyOf [X, null], enums, lists of texts and
// of objects.
const doc = {
  components: {
    schemas: {
      Order: {
        required: ["order_type", "to_parties", "description", "source_party"],
        properties: {
          source_party: { type: "string", description: "来源方 source party" },
          order_type: { $ref: "#/components/schemas/OrderType", description: "派单类型 order type" },
          to_parties: { type: "array", items: { enum: ["police", "dept-urban"] }, description: "接收方 recipients" },
          description: { type: "string", maxLength: 2000, description: "派单内容 what is asked" },
          deadline: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }], description: "办理期限 due" },
          referral: { anyOf: [{ $ref: "#/components/schemas/Referral" }, { type: "null" }], description: "涉嫌犯罪移送明细 referral" },
          officers: { type: "array", minItems: 2, items: { $ref: "#/components/schemas/Officer" }, description: "执法人员 officers" },
        },
      },
      OrderType: { enum: ["WHISTLE", "CRIMINAL_REFERRAL"], description: "派单类型" },
      Referral: {
        required: ["suspected_offence", "evidence"],
        properties: {
          suspected_offence: { type: "string", maxLength: 200, description: "涉嫌罪名 suspected offence" },
          evidence: { type: "array", items: { type: "string" }, description: "证据清单 list of evidence" },
          seized_items: { type: "array", items: { type: "string" }, description: "涉案物品清单 seized items" },
          confirmed: { type: "boolean", description: "已确认 confirmed" },
        },
      },
      Officer: {
        required: ["certificate_no"],
        properties: { certificate_no: { type: "string", enum: ["42010601001"], description: "执法证号 certificate" } },
      },
    },
  },
};

describe("forms built from the record models", () => {
  it("takes each field's Chinese name, shape, choices and whether it is required", () => {
    const fields = fieldsOf(doc, "Order", new Set(["source_party"]));
    const by = Object.fromEntries(fields.map((f) => [f.key, f]));
    expect(Object.keys(by)).toEqual(["order_type", "to_parties", "description", "deadline", "referral", "officers"]);
    expect(by.order_type).toMatchObject({ label: "派单类型", kind: "select", required: true, options: ["WHISTLE", "CRIMINAL_REFERRAL"] });
    expect(by.to_parties).toMatchObject({ kind: "multiselect", options: ["police", "dept-urban"] });
    expect(by.description).toMatchObject({ label: "派单内容", kind: "textarea" });
    expect(by.deadline).toMatchObject({ label: "办理期限", kind: "datetime", required: false });
    expect(by.referral?.kind).toBe("object");
    expect(by.referral?.children.map((c) => [c.path, c.kind, c.required])).toEqual([
      ["referral.suspected_offence", "text", true],
      ["referral.evidence", "list", true],
      ["referral.seized_items", "list", false],
      ["referral.confirmed", "bool", false],
    ]);
    expect(by.officers).toMatchObject({ kind: "objects", required: false });
    expect(by.officers?.children[0]).toMatchObject({ key: "certificate_no", kind: "select" });
    expect(emptyOf({ ...by.officers!, required: true })).toHaveLength(2); // minItems 2
    expect(labelOf("姓名（脱敏） reporter name, masked", "x")).toEqual(["姓名（脱敏）", "reporter name, masked"]);
    expect(labelOf(undefined, "uscc")).toEqual(["uscc", ""]);
  });

  it("sends what was filled in: blanks, blank list entries and untouched optional objects left out", () => {
    const fields = fieldsOf(doc, "Order", new Set(["source_party", "officers"]));
    const values = emptyRecord(fields) as Record<string, any>;
    expect(bodyOf(fields, values)).toEqual({ to_parties: [] }); // an untouched referral is left out
    values.order_type = "CRIMINAL_REFERRAL";
    values.description = "  涉嫌非法经营  ";
    values.referral.suspected_offence = "非法经营罪";
    values.referral.evidence = ["现场检查笔录", " ", "询问笔录"];
    expect(bodyOf(fields, values)).toEqual({
      order_type: "CRIMINAL_REFERRAL", to_parties: [], description: "涉嫌非法经营",
      referral: { suspected_offence: "非法经营罪", evidence: ["现场检查笔录", "询问笔录"], confirmed: false },
    });
  });

  it("puts the hub's messages on their fields, list entries by number, the rest apart", () => {
    const fields = fieldsOf(doc, "Order");
    const placed = placeErrors(fields, [
      { path: "referral.evidence[1]", message_zh: "内容过短" },
      { path: "referral.suspected_offence", message_zh: "请填写" },
      { path: "officers[0].certificate_no", message_zh: "非本单位持证人员" },
      { path: "", message_zh: "接收方须含公安机关" },
    ]);
    expect(placed.byPath).toEqual({
      "referral.evidence": "第2项：内容过短",
      "referral.suspected_offence": "请填写",
      officers: "第1项：非本单位持证人员",
    });
    expect(placed.unplaced).toEqual(["接收方须含公安机关"]);
  });

  it("offers each party the forms of the records it may send, and fills in who and when", () => {
    expect(formsFor("street").map(([name]) => name)).toEqual(
      ["clue", "assignment", "assistance", "transfer", "referral", "case"]);
    expect(formsFor("police").map(([name]) => name)).toEqual(["reverse-transfer"]);
    expect(formsFor("ops")).toEqual([]);
    const at = new Date("2026-12-03T02:00:00Z");
    const referral = FORMS.referral!;
    expect(referral.hidden).toContain("transfer");
    expect(referral.hidden).not.toContain("referral");
    expect(referral.required).toEqual(["referral"]); // the order type's detail
    expect(completed(referral, { description: "x" }, "street-jiyuqiao", "WB-1", at)).toEqual({
      description: "x", source_party: "street-jiyuqiao", source_id: "WB-1", occurred_at: at.toISOString(),
      order_type: "CRIMINAL_REFERRAL", from_party: "street-jiyuqiao", issued_at: at.toISOString(),
    });
    const kase = completed(FORMS.case!, { source_id: "ZF-2026-001", revision: 2 }, "dept-urban", "WB-2", at);
    expect(kase).toMatchObject({ source_id: "ZF-2026-001", revision: 2, owner_party: "dept-urban" });
  });
});
