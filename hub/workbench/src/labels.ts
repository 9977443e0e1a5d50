// The Chinese the district's officers read, for the hub's codes (English: i18n.words).
import { lang, words } from "./i18n";

export const ORDER_TYPES: Record<string, string> = {
  WHISTLE: "吹哨",
  ASSIGNMENT: "派单",
  ASSISTANCE: "协助",
  CASE_TRANSFER: "案件移送",
  CRIMINAL_REFERRAL: "涉嫌犯罪移送",
  REVERSE_TRANSFER: "反向移送",
  SUGGEST_REFERRAL: "建议移送",
  SUPERVISION_NOTICE: "执法监督意见",
  RECOMMENDATION: "检察建议",
  ENFORCEMENT_APPLICATION: "申请强制执行",
};

export const STATES: Record<string, string> = {
  ISSUED: "待签收",
  SIGNED: "已签收",
  IN_PROGRESS: "办理中",
  ANSWERED: "已反馈",
  CLOSED: "已办结",
  EVALUATED: "已评价",
  RETURNED: "已退单",
  ACCEPTED: "已受理",
  FILED: "已立案",
  NOT_FILED: "不予立案",
  RECONSIDERING: "复议中",
  SUPERVISED: "立案监督中",
  REFERRED: "已移送",
  DECLINED: "不予移送",
  GRANTED: "准予执行",
  DENIED: "不予执行",
};

export const EVENTS: Record<string, string> = {
  SIGNED: "签收",
  REPORTED: "报到",
  FEEDBACK: "反馈",
  RETURNED: "退单",
  REASSIGNED: "改派",
  CLOSED: "办结",
  EVALUATED: "评价",
  OVERDUE: "超时",
  ESCALATED: "督办",
  ACCEPTED: "受理",
  FILED: "立案",
  NOT_FILED: "不予立案",
  RECONSIDERATION: "申请复议",
  SUPERVISION: "立案监督",
  REFERRED: "已移送",
  DECLINED: "不予移送",
  GRANTED: "准予执行",
  DENIED: "不予执行",
};

export const DUE_KINDS: Record<string, string> = {
  "sign-off": "签收",
  answer: "反馈",
  acceptance: "受理",
};

/** A code in the workbench's language: its Chinese, or (English) its words. */
export const label = (table: Record<string, string>, code: string): string =>
  lang.value === "en" ? words(code) : table[code] ?? code;

// The choices of the record forms (schemaForm.ts): the Chinese of the hub's enum codes.
export const CHOICES: Record<string, string> = {
  ...ORDER_TYPES,
  NORMAL: "一般", URGENT: "紧急", CRITICAL: "特急",
  FILED: "已立案", INVESTIGATING: "调查中", LEGAL_REVIEW: "法制审核", DECIDED: "已作出决定",
  EXECUTING: "执行中", CLOSED: "已结案",
  NATURAL_PERSON: "自然人", ORGANISATION: "法人或其他组织",
  WARNING: "警告", FINE: "罚款", CONFISCATION: "没收违法所得、非法财物", PERMIT_SUSPENSION: "暂扣许可证件",
  BUSINESS_RESTRICTION: "限制开展生产经营活动", OTHER: "其他",
  IDENTIFICATION: "认定", APPRAISAL: "检验鉴定", APPROVAL_RECORDS: "审批资料",
  PATROL: "巡查发现", HOTLINE_12345: "12345热线", GRID: "网格上报", DEPARTMENT: "部门移交", PUBLIC_REPORT: "群众举报",
};

/** A choice as the form shows it: its Chinese with the code, or the code. */
export const optionLabel = (table: Record<string, string> | undefined, code: string): string =>
  !table?.[code] ? code : lang.value === "en" ? `${words(code)} (${code})` : `${table[code]}（${code}）`;
