// The console's calls: its own endpoints (api/...) and the node's AWS APIs
// through api/aws, which signs each call with the session's credentials.
let csrf = "";

export class Denied extends Error { name = "Denied"; }
export class SignedOut extends Error { name = "SignedOut"; }

export async function session() {
  const r = await fetch("api/session", { credentials: "same-origin" });
  const s = await r.json();
  if (!s.principal) return null;
  csrf = s.csrf;
  return s;
}

export async function signIn(form) {
  const r = await fetch("api/signin", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(form) });
  const s = await r.json();
  if (!r.ok) throw new Error(s.message || "Sign-in refused");
  csrf = s.csrf;
  return s;
}

export async function signOut() {
  await fetch("api/signout", { method: "POST", headers: { "X-Nimbus-Csrf": csrf } });
}

export async function node() {
  const r = await fetch("api/node");
  if (r.status === 401) throw new SignedOut();
  return r.json();
}

// call makes one AWS API call; it resolves to {status, headers, text} and
// throws Denied when IAM refuses it.
export async function call(k) {
  const r = await fetch("api/aws", { method: "POST", headers: { "Content-Type": "application/json", "X-Nimbus-Csrf": csrf }, body: JSON.stringify(k) });
  if (r.status === 401) throw new SignedOut();
  const text = await r.text();
  const type = r.headers.get("X-Amzn-Errortype") || "";
  if (r.status >= 400 && (/AccessDenied|NotAuthorized|Forbidden/i.test(type) || /AccessDenied|is not authorized/.test(text))) {
    throw new Denied(errorMessage(text) || "Access denied");
  }
  if (r.status >= 400) throw new Error(errorMessage(text) || `${k.service} answered ${r.status}`);
  return { status: r.status, headers: r.headers, text };
}

function errorMessage(text) {
  try { const j = JSON.parse(text); return j.message || j.Message || j.errorMessage || ""; } catch { /* XML */ }
  const m = /<Message>([^<]*)<\/Message>/.exec(text);
  return m ? m[1] : "";
}

// stream makes one AWS API call whose answer is an AWS event stream
// (application/vnd.amazon.eventstream) and calls onEvent(type, payload,
// messageType) for each message as it arrives; it resolves when the
// stream ends and stops when signal aborts.
export async function stream(k, onEvent, signal) {
  const r = await fetch("api/aws", { method: "POST", headers: { "Content-Type": "application/json", "X-Nimbus-Csrf": csrf }, body: JSON.stringify(k), signal });
  if (r.status === 401) throw new SignedOut();
  if (!r.ok || !r.body) {
    const text = await r.text();
    const type = r.headers.get("X-Amzn-Errortype") || "";
    if (/AccessDenied/i.test(type) || /AccessDenied|is not authorized/.test(text)) throw new Denied(errorMessage(text) || "Access denied");
    throw new Error(errorMessage(text) || `${k.service} answered ${r.status}`);
  }
  const reader = r.body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buf.length + value.length);
    joined.set(buf); joined.set(value, buf.length);
    buf = joined;
    while (buf.length >= 12) {
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const total = dv.getUint32(0), hlen = dv.getUint32(4);
      if (total < 16 || hlen > total - 16) throw new Error("The event stream is malformed.");
      if (buf.length < total) break;
      const m = decodeMessage(buf.subarray(0, total), hlen);
      buf = buf.slice(total);
      onEvent(m.headers[":event-type"] || m.headers[":exception-type"] || "", m.payload, m.headers[":message-type"] || "");
    }
  }
}

// decodeMessage reads one event stream message: its headers (strings
// kept, other types skipped) and its payload as text.
function decodeMessage(b, hlen) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength), td = new TextDecoder();
  const headers = {};
  let i = 12;
  const end = 12 + hlen;
  while (i < end) {
    const nlen = b[i]; const name = td.decode(b.subarray(i + 1, i + 1 + nlen)); i += 1 + nlen;
    const type = b[i++];
    const fixed = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };
    if (type === 6 || type === 7) {
      const len = dv.getUint16(i); i += 2;
      if (type === 7) headers[name] = td.decode(b.subarray(i, i + len));
      i += len;
    } else if (type in fixed) i += fixed[type];
    else throw new Error("The event stream is malformed.");
  }
  return { headers, payload: td.decode(b.subarray(end, b.length - 4)) };
}

const j10 = "application/x-amz-json-1.0", j11 = "application/x-amz-json-1.1";

// json calls a JSON-protocol operation (X-Amz-Target).
export async function json(service, target, body = {}) {
  const v10 = /^(DynamoDB|AWSStepFunctions|AmazonSQS|GraniteService)/.test(target);
  const r = await call({ service, method: "POST", path: "/", target, contentType: v10 ? j10 : j11, body: JSON.stringify(body) });
  return r.text ? JSON.parse(r.text) : {};
}

// rest calls a REST-JSON operation.
export async function rest(service, method, path, query = "", body) {
  const k = { service, method, path, query };
  if (body !== undefined) { k.body = typeof body === "string" ? body : JSON.stringify(body); k.contentType = "application/json"; }
  const r = await call(k);
  return r.text ? JSON.parse(r.text) : {};
}

// query calls a query-protocol operation and returns its XML document.
export async function query(service, action, version, params = {}) {
  const p = new URLSearchParams({ Action: action, Version: version, ...params });
  const r = await call({ service, method: "POST", path: "/", contentType: "application/x-www-form-urlencoded", body: p.toString() });
  return new DOMParser().parseFromString(r.text, "application/xml");
}

// xml reads the text of the first element named name under el.
export const xtext = (el, name) => el.getElementsByTagName(name)[0]?.textContent ?? "";
export const xall = (el, name) => Array.from(el.getElementsByTagName(name));

// metricData calls CloudWatch GetMetricData.
export async function metricData(queries, start, end) {
  const byId = new Map();
  let token;
  do {
    const body = { MetricDataQueries: queries, StartTime: start / 1000, EndTime: end / 1000, ScanBy: "TimestampAscending" };
    if (token) body.NextToken = token;
    const r = await json("monitoring", "GraniteServiceVersion20100801.GetMetricData", body);
    for (const m of r.MetricDataResults || []) {
      const had = byId.get(m.Id);
      if (!had) { byId.set(m.Id, { ...m, Timestamps: [...(m.Timestamps || [])], Values: [...(m.Values || [])] }); continue; }
      had.Timestamps.push(...(m.Timestamps || [])); had.Values.push(...(m.Values || []));
    }
    token = r.NextToken;
  } while (token);
  return queries.map(q => byId.get(q.Id) || { Id: q.Id, Timestamps: [], Values: [] });
}
