// The record forms of the workbench (CreatePage.vue): which record each makes, who may
// use it (the kinds of party that publish that record and issue that order type,
// hub/http/policy.py) and what the hub fills in itself.
import { words } from "./i18n";

export interface FormSpec {
  title: string;
  titleEn: string;
  kind: "clue" | "order" | "case"; // the record kind posted
  component: string; // its model in the OpenAPI document
  orderType?: string;
  parties: string[]; // the party kinds that may use it
  hidden: string[]; // fields the hub or the form fills in
  required?: string[]; // required by a rule of the record as a whole (the type's detail)
  intro: string;
  introEn: string;
}

const ENVELOPE = ["source_party", "source_id", "record_id", "occurred_at", "received_at", "schema_version", "trace_id"];
const DETAILS = ["referral", "transfer", "assistance", "enforcement"];
const ORDER = [...ENVELOPE, "order_id", "order_type", "from_party", "issued_at"];
const AUTHORITIES = ["street", "department"];

function order(title: string, orderType: string, detail: string | null, parties: string[], intro: string,
               introEn: string): FormSpec {
  return {
    title, titleEn: words(orderType), kind: "order", component: "DispatchOrder", orderType, parties, intro, introEn,
    hidden: [...ORDER, ...DETAILS.filter((d) => d !== detail)],
    required: detail ? [detail] : [],
  };
}

export const FORMS: Record<string, FormSpec> = {
  clue: {
    title: "上报线索", titleEn: "Report a clue", kind: "clue", component: "Clue", parties: AUTHORITIES, hidden: ENVELOPE,
    intro: "巡查、热线、网格或群众举报发现的违法线索；枢纽按事项派给主管单位。",
    introEn: "A possible violation found on patrol, by the hotline, the grid or the public; the hub sends it to the unit in charge of the matter.",
  },
  assignment: order("派单", "ASSIGNMENT", null, AUTHORITIES, "向街道或部门派发执法任务（双向派单）。",
    "Send enforcement work to a street or a department (dispatch both ways)."),
  assistance: order("协助请求", "ASSISTANCE", "assistance", AUTHORITIES, "请求认定、检验鉴定或审批资料等协助。",
    "Ask for an identification, an appraisal or approval records."),
  transfer: order("案件移送", "CASE_TRANSFER", "transfer", AUTHORITIES,
    "发现应由对方查处的违法行为：先责令当事人停止违法行为，再移送有管辖权的单位并附线索材料（规则四（五））。",
    "A violation the other side should handle: order the party to stop first, then transfer it with the materials (rule 4(5))."),
  referral: order("涉嫌犯罪移送", "CRIMINAL_REFERRAL", "referral", AUTHORITIES,
    "涉嫌犯罪的案件移送公安机关，同时抄送检察院；须列明证据和涉案物品清单。",
    "A suspected crime goes to the police, with a copy to the procuratorate; list the evidence and seized items."),
  "reverse-transfer": order("反向移送", "REVERSE_TRANSFER", "transfer", ["police"], "公安机关不予立案但需行政处罚的，移送执法单位。",
    "Not a crime but an administrative violation: back to the enforcement unit."),
  suggestion: order("建议移送", "SUGGEST_REFERRAL", "referral", ["procuratorate"], "检察院建议执法单位移送涉嫌犯罪案件。",
    "The procuratorate suggests referring a suspected crime."),
  recommendation: order("检察建议", "RECOMMENDATION", null, ["procuratorate"], "检察院向执法单位提出检察建议。",
    "The procuratorate's recommendation to an enforcement unit."),
  supervision: order("执法监督意见", "SUPERVISION_NOTICE", null, ["justice"], "司法局对执法单位的执法监督意见。",
    "The justice bureau's supervision notice to an enforcement unit."),
  case: {
    title: "立案与处罚决定", titleEn: "Case filing and decision", kind: "case", component: "EnforcementCase", parties: AUTHORITIES,
    hidden: [...ENVELOPE.filter((f) => f !== "source_id"), "owner_party"],
    intro: "立案时填写当事人和执法人员（第1版）；作出处罚决定后，以同一来源编号、下一修订版本再次提交并填写处罚决定。",
    introEn: "File a case with its party and officers (revision 1); once decided, send it again with the same source id, the next revision and the decision.",
  },
};

/** The forms a kind of party may use, in menu order. */
export const formsFor = (partyKind: string): [string, FormSpec][] =>
  Object.entries(FORMS).filter(([, spec]) => spec.parties.includes(partyKind));

/** What the hub's party and the form fill in: the record as the officer wrote it, with
 * the caller as its source (and issuer, or owner), one source id for the form's life (so
 * a check and the publish give one record id), and the time it is sent. */
export function completed(spec: FormSpec, body: Record<string, unknown>, party: string, sourceId: string,
                          now: Date): Record<string, unknown> {
  const at = now.toISOString();
  const filled: Record<string, unknown> = { source_id: sourceId, ...body, source_party: party, occurred_at: at };
  if (spec.kind === "order") Object.assign(filled, { order_type: spec.orderType, from_party: party, issued_at: at });
  if (spec.kind === "case") Object.assign(filled, { owner_party: party });
  return filled;
}
