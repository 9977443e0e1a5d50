// The workbench speaks Chinese; English is an option (the header's switch, kept in this
// browser). Pages write their words in Chinese and pass them through t(); the hub's own
// messages come in both languages (a problem's detail and detail_zh), the record forms
// take the English half of each field's description, and codes without an English word
// here are shown as words ("NOT_FILED" → "Not filed").
import { ref } from "vue";

export type Lang = "zh" | "en";
const KEY = "hub-lang";

export const lang = ref<Lang>(localStorage.getItem(KEY) === "en" ? "en" : "zh");

export function setLang(next: Lang): void {
  lang.value = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

const EN: Record<string, string> = {
  "武昌区综合执法协同工作台": "Wuchang enforcement workbench",
  "待办": "Inbox",
  "主菜单": "Main menu",
  "吹哨": "Whistle",
  "新建": "New",
  "共享数据": "Shared data",
  "双向考核": "Assessment",
  "退出": "Sign out",
  "登录": "Sign in",
  "登录工作台": "Sign in to the workbench",
  "接入令牌": "Access token",
  "hub_… 由枢纽运维人员发放": "hub_… issued by the hub's operators",
  "请输入本单位的接入令牌": "Enter your unit's access token",
  "无法连接枢纽，请稍后重试": "Cannot reach the hub; try again shortly",
  "令牌只在登录时使用一次；登录后会话在本浏览器保持，到期后需重新登录。":
    "The token is used once, to sign in; the session then stays in this browser until it expires.",
  "收到的": "Received",
  "发出的": "Sent",
  "抄送的": "Copies",
  "提请审定": "To rule",
  "全部状态": "All states",
  "全部类型": "All types",
  "状态": "State",
  "类型": "Type",
  "收到或发出": "Received or sent",
  "暂无派单": "No orders",
  "无法读取待办，请稍后重试": "Cannot read the inbox; try again shortly",
  "事项": "Matter",
  "派单方": "Issuer",
  "接收方": "Recipients",
  "时限": "Deadline",
  "办理": "Open",
  "未读": "Unread",
  "内容": "Content",
  "地点": "Place",
  "签收时限": "Sign-off due",
  "反馈时限": "Answer due",
  "受理时限": "Acceptance due",
  "可办理操作": "Actions",
  "当前无可办理操作": "Nothing for you to do now",
  "办理记录": "History",
  "派单": "Issued",
  "理由": "Reason",
  "理由（必填）": "Reason (required)",
  "说明": "Comment",
  "评价": "Rating",
  "评价（1–5分）": "Rating (1–5)",
  "评分": "Rating",
  "改派给": "Reassign to",
  "改派单位": "Units to reassign to",
  "单位编号，多个用逗号分隔": "Unit ids, separated by commas",
  "所作移送的派单编号": "Id of the referral made",
  "移送派单编号": "Referral id",
  "提交": "Submit",
  "请填写理由": "Give the reason",
  "请给出1至5分的评价": "Rate it from 1 to 5",
  "请选择改派的单位": "Choose the units to reassign to",
  "请填写所作移送的派单编号": "Give the id of the referral made",
  "无法读取派单": "Cannot read the order",
  "提交失败，请稍后重试": "Could not send; try again shortly",
  "街道吹哨 · 部门报到": "Street whistles, departments report",
  "报到部门": "Department to report",
  "请选择": "Choose",
  "事项编码": "Matter code",
  "吹哨内容": "What is asked",
  "请选择报到的部门": "Choose the department",
  "请选择事项": "Choose the matter",
  "请填写吹哨内容": "Say what is asked",
  "（选填）": " (optional)",
  "添加一项": "Add one",
  "删除": "Remove",
  "是": "Yes",
  "选择时间": "Pick a time",
  "没有这个表单": "No such form",
  "有%处需要修改": "% fields need changing",
  "无法校验，请稍后重试": "Cannot check; try again shortly",
  "已提交，记录编号 ": "Sent; record id ",
  "确认案件移送": "Confirm the case transfer",
  "确认移送": "Transfer",
  "返回修改": "Back to the form",
  "移送前已责令当事人停止违法行为，并将随附线索材料。确认移送？":
    "The party was ordered to stop the violation and the materials go with it. Transfer?",
  "尚未勾选“已责令停止违法行为”。规则要求发现应由对方查处的违法行为时立即责令当事人停止违法行为。仍要移送吗？":
    "The stop order is not ticked. The rules require ordering the party to stop at once before transferring. Transfer anyway?",
  "共享数据调阅": "Shared data lookup",
  "按主键或二级键查询共享数据；须说明用途，每次调阅均记录调阅单位、用途和返回的字段。":
    "Look a record up by its key or a secondary key; say why: every read is audited with who, why and which fields.",
  "数据集": "Dataset",
  "查询字段": "Search by",
  "（主键）": " (key)",
  "查询值": "Value",
  "调阅用途": "Purpose",
  "派单或案件编号，或简短说明": "An order or case id, or a few words",
  "调阅": "Look up",
  "脱敏": "masked",
  "完整": "whole",
  "结果": "Results",
  "条": "",
  "，个人信息已脱敏": ", personal data masked",
  "未找到": "Not found",
  "无权调阅：": "Not open to you: ",
  "（可向数据所有单位申请订阅）": " (ask the owner for a subscription)",
  "请选择数据集并填写查询值": "Choose a dataset and a value",
  "请说明调阅用途（派单或案件编号，或简短说明）：每次调阅均留痕":
    "Say why you read (an order or case id, or a few words): every read is audited",
  "无法读取资源目录": "Cannot read the data catalogue",
  "调阅失败，请稍后重试": "Lookup failed; try again shortly",
  "考核月份": "Month",
  "单位": "Unit",
  "收到派单": "Received",
  "按时签收率": "Signed on time",
  "按时反馈率": "Answered on time",
  "P90响应（小时）": "P90 response (h)",
  "退单": "Returned",
  "超时": "Overdue",
  "已完成：": "Done: ",
  "，状态：": ", state: ",
  "平均评价": "Mean rating",
  "本月暂无数据": "No figures this month",
  "无法读取考核数据": "Cannot read the assessment",
  "按时签收率与按时反馈率（各单位）": "Signed and answered on time, per unit",
  "签收": "Signed",
  "反馈": "Answered",
};

/** words, in the workbench's language. */
export const t = (zh: string): string => (lang.value === "en" ? EN[zh] ?? zh : zh);

/** A code as English words: "NOT_FILED" → "Not filed". */
export const words = (code: string): string =>
  code ? code.charAt(0) + code.slice(1).toLowerCase().replace(/_/g, " ") : code;
