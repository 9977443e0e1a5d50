// What each order action asks of the officer before it is sent (the OrderEvent rules:
// a reason to return, not file, reconsider, decline or deny; a rating 1–5 to evaluate;
// the new recipients to reassign; the referral made to say REFERRED).

export interface ActionForm {
  reason: string;
  comment: string;
  rating: number;
  reassignTo: string[];
  linkedOrderId: string;
}

export const NEEDS_REASON = new Set(["RETURNED", "NOT_FILED", "RECONSIDERATION", "DECLINED", "DENIED"]);

export function needsForm(action: string): boolean {
  return NEEDS_REASON.has(action) || ["EVALUATED", "REASSIGNED", "REFERRED", "FEEDBACK"].includes(action);
}

/** The problem with the form for action, in Chinese; null when it may be sent. */
export function formProblem(action: string, form: ActionForm): string | null {
  if (NEEDS_REASON.has(action) && !form.reason.trim()) return "请填写理由";
  if (action === "EVALUATED" && !(form.rating >= 1 && form.rating <= 5)) return "请给出1至5分的评价";
  if (action === "REASSIGNED" && form.reassignTo.length === 0) return "请选择改派的单位";
  if (action === "REFERRED" && !/^[0-9a-f-]{36}$/.test(form.linkedOrderId.trim())) {
    return "请填写所作移送的派单编号";
  }
  return null;
}

/** The body of POST /v1/orders/{id}/events for action and its form. */
export function eventBody(action: string, form: ActionForm, sourceId: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    event_type: action,
    source_id: sourceId,
    occurred_at: new Date().toISOString(),
  };
  if (form.reason.trim()) body.reason = form.reason.trim();
  if (form.comment.trim()) body.comment = form.comment.trim();
  if (action === "EVALUATED") body.rating = form.rating;
  if (action === "REASSIGNED") body.reassign_to = form.reassignTo;
  if (action === "REFERRED") body.linked_order_id = form.linkedOrderId.trim();
  return body;
}
