// The console's client of recalld's JSON API, on the same origin, signed
// in by the session cookie. The contract is written down in ../API.md.

export type Role = 'admin' | 'auditor';

export interface Session {
  operator: { name: string; role: Role };
  tenant: string;
  csrf_token: string;
  idle_expires_at: string;
  expires_at: string;
}

// ApiError is a refused or failed request: status 0 when the server could
// not be reached, code the body's stable "error" code.
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: Record<string, unknown>;

  constructor(status: number, code: string, message: string, body: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }

  // missingRoute tells a route this recalld does not serve yet (404
  // not_found) from a thing that does not exist, which API.md gives its own
  // code (message_not_found, operator_not_found).
  get missingRoute(): boolean {
    return this.status === 404 && (this.code === 'not_found' || this.code === 'http_404');
  }
}

let csrfToken = '';
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

// whenUnauthorized is called when a signed-in request gets 401: the
// session ended (idle, expired, or logged out elsewhere).
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

type Query = Record<string, string | number | undefined | null>;

export function queryString(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  // the login and session calls handle 401 themselves
  noSessionRedirect?: boolean;
}

export interface Reply<T> {
  data: T;
  headers: Headers;
  status: number;
}

async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path + queryString(opts.query ?? {}), { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text && (res.headers.get('Content-Type') ?? '').includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) {
    const b = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
    const code = typeof b.error === 'string' ? b.error : `http_${res.status}`;
    const msg = typeof b.message === 'string' ? b.message : typeof b.error_description === 'string' ? b.error_description : '';
    if (res.status === 401 && !opts.noSessionRedirect && onUnauthorized) onUnauthorized();
    throw new ApiError(res.status, code, msg, b);
  }
  return { data: parsed as T, headers: res.headers, status: res.status };
}

function tenantPath(tenant: string, rest: string): string {
  const [org, app] = tenant.split('/');
  return `/v1/${encodeURIComponent(org)}/${encodeURIComponent(app)}${rest}`;
}

// --- session ---------------------------------------------------------------

export async function login(tenant: string, name: string, password: string): Promise<Session> {
  return (await request<Session>('POST', '/console/api/login', { body: { tenant, name, password }, noSessionRedirect: true })).data;
}

export async function logout(): Promise<void> {
  await request<void>('POST', '/console/api/logout', { noSessionRedirect: true });
}

export async function currentSession(): Promise<Session> {
  return (await request<Session>('GET', '/console/api/session', { noSessionRedirect: true })).data;
}

// --- reports ---------------------------------------------------------------

export type GroupBy = 'outcome' | 'hour' | 'day' | 'platform' | 'chat_type' | 'actor' | 'elapsed';

export interface ReportRow {
  key: string;
  attempts: number;
  recalled: number;
  refused: number;
  timeouts: number;
}

export interface RecallReport {
  from: string;
  to: string;
  group_by: GroupBy;
  rows: ReportRow[] | null;
}

export async function recallReport(tenant: string, q: { from: string; to: string; group_by: GroupBy; tz: string }): Promise<RecallReport> {
  return (await request<RecallReport>('GET', tenantPath(tenant, '/reports/recalls'), { query: q })).data;
}

// --- audit -----------------------------------------------------------------

export interface AuditEntry {
  at: string;
  event_id?: string;
  action: string;
  actor?: string;
  actor_role?: string;
  platform?: string;
  msg_id?: string;
  conversation_id?: string;
  outcome?: string;
  reason?: string;
  reason_text?: string;
  content_sha256?: string;
  detail?: string;
  content?: string;
  prev_hash?: string;
  hash?: string;
  seq: number;
  position?: number;
}

export interface AuditPage {
  entries: AuditEntry[] | null;
  next_cursor?: number;
}

export interface AuditFilter {
  from?: string;
  to?: string;
  actor?: string;
  conversation_id?: string;
  msg_id?: string;
  action?: string;
  outcome?: string;
  cursor?: number;
  limit?: number;
}

export async function auditPage(tenant: string, f: AuditFilter): Promise<AuditPage> {
  return (await request<AuditPage>('GET', tenantPath(tenant, '/audit'), { query: { ...f, format: 'json' } })).data;
}

// auditExportURL is a same-origin link the browser downloads with the
// session cookie (no token ever goes into a URL): the server's verified
// export of every entry the filters match, a .zip of the file and its
// manifest that `recallctl audit verify-export` checks offline.
export function auditExportURL(tenant: string, f: AuditFilter, format: 'csv' | 'jsonl'): string {
  const { cursor: _cursor, limit: _limit, ...rest } = f;
  return tenantPath(tenant, '/audit/export') + queryString({ ...rest, format });
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  head?: string;
  anchor_seq?: number;
  broken_seq?: number;
  problem?: string;
}

export async function verifyAudit(tenant: string): Promise<VerifyResult> {
  return (await request<VerifyResult>('GET', tenantPath(tenant, '/audit/verify'))).data;
}

export interface Checkpoint {
  tenant?: string;
  size: number;
  root_hash: string;
  signed_note?: string;
  at?: string;
}

export async function auditCheckpoint(tenant: string): Promise<Checkpoint> {
  return (await request<Checkpoint>('GET', tenantPath(tenant, '/audit/checkpoint'))).data;
}

// --- messages ----------------------------------------------------------------

// StoredEvent is one event of a message's stream, schema v1
// (docs/schema/events-v1.json).
export interface StoredEvent {
  event_id: string;
  type: 'MessageSent' | 'MessageRead' | 'MessageRecalled' | 'RecallRejected' | 'MessageExpired' | string;
  schema_version: number;
  tenant: string;
  stream: string;
  stream_version: number;
  position: number;
  occurred_at: string;
  data: Record<string, unknown>;
}

export async function messageHistory(tenant: string, msgId: string): Promise<StoredEvent[]> {
  return (await request<StoredEvent[]>('GET', tenantPath(tenant, `/messages/${encodeURIComponent(msgId)}/history`))).data ?? [];
}

export type ChatType = 'chat' | 'groupchat' | 'chatroom';

export interface BatchRecallItem {
  msg_id: string;
  to: string;
  chat_type: ChatType;
}

export interface BatchRecallResult {
  msg_id: string;
  recalled: string; // "yes", or Easemob's failure string
  recallfailed?: string;
  reason?: string;
  from: string;
  to: string;
  chattype: string;
}

// batchRecall is the Easemob-compatible admin recall (no /v1 prefix).
export async function batchRecall(tenant: string, msgs: BatchRecallItem[]): Promise<BatchRecallResult[]> {
  const [org, app] = tenant.split('/');
  const path = `/${encodeURIComponent(org)}/${encodeURIComponent(app)}/messages/recall`;
  return (await request<{ msgs: BatchRecallResult[] }>('POST', path, { body: { msgs } })).data.msgs ?? [];
}

// --- policy ----------------------------------------------------------------

export type Policy = Record<string, unknown> & { version?: number };

export async function getPolicy(tenant: string): Promise<{ policy: Policy; etag: string }> {
  const r = await request<Policy>('GET', tenantPath(tenant, '/policy'));
  return { policy: r.data, etag: r.headers.get('ETag') ?? '' };
}

export async function putPolicy(tenant: string, policy: Policy, etag: string): Promise<{ policy: Policy; etag: string }> {
  const headers: Record<string, string> = etag ? { 'If-Match': etag } : {};
  // The version travels in If-Match; the body is the policy's fields only.
  const { version: _version, ...fields } = policy;
  const r = await request<Policy>('PUT', tenantPath(tenant, '/policy'), { body: fields, headers });
  return { policy: r.data, etag: r.headers.get('ETag') ?? '' };
}

export interface PolicyChange {
  field: string;
  old: unknown;
  new: unknown;
}

export interface PolicyVersion {
  version: number;
  changed_by: string;
  at: string;
  changes: PolicyChange[] | null;
}

export async function policyHistory(tenant: string): Promise<PolicyVersion[]> {
  return (await request<PolicyVersion[]>('GET', tenantPath(tenant, '/policy/history'))).data ?? [];
}

export interface Transition {
  from: string; // "recalled" or a refusal reason
  to: string;
  count: number;
  sample_msg_ids: string[] | null;
}

export interface Simulation {
  from: string;
  to: string;
  attempts: number;
  changed: number;
  transitions: Transition[] | null;
}

export async function simulatePolicy(tenant: string, policy: Policy, from: string, to: string): Promise<Simulation> {
  return (await request<Simulation>('POST', tenantPath(tenant, '/policy/simulate'), { body: { policy, from, to } })).data;
}

// --- operators -------------------------------------------------------------

export interface Operator {
  name: string;
  role: Role;
  disabled: boolean;
  created_at?: string;
  created_by?: string;
  last_login_at?: string;
}

export async function listOperators(tenant: string): Promise<Operator[]> {
  return (await request<{ operators: Operator[] }>('GET', tenantPath(tenant, '/operators'))).data.operators ?? [];
}

export async function addOperator(tenant: string, name: string, role: Role): Promise<{ operator: Operator; password: string }> {
  return (await request<{ operator: Operator; password: string }>('POST', tenantPath(tenant, '/operators'), { body: { name, role } })).data;
}

export async function setOperatorDisabled(tenant: string, name: string, disabled: boolean): Promise<Operator> {
  const action = disabled ? 'disable' : 'enable';
  return (await request<{ operator: Operator }>('POST', tenantPath(tenant, `/operators/${encodeURIComponent(name)}/${action}`))).data.operator;
}

export async function resetOperator(tenant: string, name: string): Promise<{ password: string }> {
  return (await request<{ password: string }>('POST', tenantPath(tenant, `/operators/${encodeURIComponent(name)}/reset`))).data;
}
