// The hub's HTTP API as the workbench uses it: the same routes and policy as any party
// system, authenticated by the session cookie (POST /v1/session); every change carries
// the session's CSRF token. A refusal is a Problem (RFC 9457) whose Chinese detail the
// pages show as it is.

import { lang } from "./i18n";

export interface SessionInfo {
  party: string;
  name: string;
  kind: string;
  expires_at: string;
  csrf_token: string;
}

export interface FieldError {
  path: string;
  rule: string;
  message_zh: string;
  message_en: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detailZh: string,
    readonly rule: string | null,
    readonly errors: FieldError[],
    readonly detailEn: string = detailZh,
  ) {
    super(detailZh);
  }

  /** The hub's message in the workbench's language. */
  get text(): string {
    return lang.value === "en" ? this.detailEn : this.detailZh;
  }
}

let csrf = "";

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function call<T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...extra };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let answer: Response;
  for (let attempt = 0; ; attempt++) {
    answer = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // a read the hub asks to repeat shortly (e.g. the order just posted, still being
    // applied): a few more tries after its Retry-After
    const wait = Number(answer.headers.get("Retry-After") ?? "");
    if (method !== "GET" || answer.status !== 503 || !(wait > 0 && wait <= 5) || attempt >= 5) break;
    await sleep(wait * 1000);
  }
  if (answer.status === 204) return undefined as T;
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    throw new ApiError(
      answer.status,
      data.detail_zh ?? data.detail ?? `请求失败（${answer.status}）`,
      data.rule ?? null,
      data.errors ?? [],
      data.detail ?? `request failed (${answer.status})`,
    );
  }
  return data as T;
}

// Whether this browser signed in and until when (not a secret: the session is the
// HttpOnly cookie); without it the pages go to sign-in without asking the hub.
const SIGNED_IN = "hub-signed-in-until";

export async function signIn(token: string): Promise<SessionInfo> {
  const session = await call<SessionInfo>("POST", "/v1/session", { token });
  csrf = session.csrf_token;
  localStorage.setItem(SIGNED_IN, session.expires_at);
  return session;
}

export async function currentSession(): Promise<SessionInfo | null> {
  const until = localStorage.getItem(SIGNED_IN);
  if (!until || new Date(until).getTime() <= Date.now()) return null;
  try {
    const session = await call<SessionInfo>("GET", "/v1/session");
    csrf = session.csrf_token;
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signOut(): Promise<void> {
  localStorage.removeItem(SIGNED_IN);
  await call<void>("DELETE", "/v1/session");
  csrf = "";
}

export interface OrderSummary {
  order_id: string;
  order_type: string;
  issuer: string;
  recipients: string[];
  matter_code: string;
  state: string;
  issued_at: string;
  deadline: string | null;
  next_due?: string | null;
  next_due_kind?: string | null;
}

export interface Step {
  event_id: string;
  event_type: string;
  actor: string;
  at: string; // when the hub received it
  state_after: string;
  reason?: string | null;
  comment?: string | null;
  rating?: number | null;
}

export interface OrderDetail extends OrderSummary {
  description: string | null;
  location: { address?: string } | null;
  received_at: string | null;
  priority: string;
  history: Step[];
  dues: { sign_off: string | null; answer: string | null; acceptance: string | null };
  actions: string[];
}

export const orders = (role: "received" | "issued" | "copied" | "escalated") =>
  call<{ orders: OrderSummary[] }>("GET", `/v1/orders?role=${role}`);

export const order = (id: string) => call<OrderDetail>("GET", `/v1/orders/${encodeURIComponent(id)}`);

export const act = (id: string, body: Record<string, unknown>) =>
  call<{ state_after: string; duplicate: boolean }>(
    "POST",
    `/v1/orders/${encodeURIComponent(id)}/events`,
    body,
  );

export const publishRecord = (kind: string, body: Record<string, unknown>) =>
  call<{ record_id: string }>("POST", `/v1/records/${kind}`, body);

/** Once the hub has applied an order the caller just issued (it is written already; a
 * moment later its page shows it rather than a 503): at most 6 s. */
export async function applied(orderId: string): Promise<void> {
  for (let tries = 0; tries < 20; tries++) {
    if ((await orders("issued")).orders.some((o) => o.order_id === orderId)) return;
    await sleep(300);
  }
}

export interface Verdict {
  valid: boolean;
  record_id?: string; // the id it would get, when valid
  errors?: FieldError[]; // every broken rule at its field, when not
}

/** The hub's verdict on a record, nothing written (POST /v1/validate/{kind}). */
export const checkRecord = (kind: string, body: Record<string, unknown>) =>
  call<Verdict>("POST", `/v1/validate/${kind}`, body);

let served: Promise<any> | null = null;

/** The hub's OpenAPI document (the record models, its parties, its current matter
 * catalogue and certified officers), fetched once per page load. */
export function openapi(): Promise<any> {
  served ??= call<any>("GET", "/v1/openapi.json").catch((error) => {
    served = null;
    throw error;
  });
  return served;
}

export interface Dataset {
  id: string;
  name: string;
  owner: string;
  key: string;
  secondary: string[];
  fields: Record<string, string>;
  access: "full" | "masked" | null; // null: this party may not read it (it may request it)
}

export const catalogue = () => call<{ datasets: Dataset[] }>("GET", "/v1/catalogue");

// Every read of shared data says why (X-Hub-Purpose, percent-encoded: a header carries
// no Chinese as it is) and is audited by the hub.
const why = (purpose: string) => ({ "X-Hub-Purpose": encodeURIComponent(purpose) });

export const lookup = (dataset: string, key: string, purpose: string) =>
  call<{ access: string; record: Record<string, unknown> }>(
    "GET", `/v1/shared/${encodeURIComponent(dataset)}/${encodeURIComponent(key)}`, undefined, why(purpose));

export const search = (dataset: string, by: string, value: string, purpose: string) =>
  call<{ access: string; records: Record<string, unknown>[] }>(
    "GET", `/v1/shared/${encodeURIComponent(dataset)}?${encodeURIComponent(by)}=${encodeURIComponent(value)}`,
    undefined, why(purpose));

export interface Figures {
  party: string;
  received: number;
  signed_on_time_rate: number | null;
  answered_on_time_rate: number | null;
  p90_response_hours: number | null;
  returned: number;
  overdue: number;
  evaluations: number;
  mean_evaluation: number | null;
}

export const assessment = (period: string) =>
  call<{ period: string; parties: Figures[] }>("GET", `/v1/assessment?period=${period}`);
