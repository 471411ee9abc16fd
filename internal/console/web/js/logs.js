// Logs: a log group's events through FilterLogEvents with CloudWatch
// Logs' filter-pattern language, and a live tail: a StartLiveTail
// session, its event stream read as it comes (a sessionUpdate a second).
import { h, param, failure, fmtTime, select } from "./ui.js";
import * as api from "./api.js";

export default async function logs(root, { onLeave }) {
  root.append(h("h1", {}, "Logs"));
  let groups = [];
  try {
    let token;
    do {
      const r = await api.json("logs", "Logs_20140328.DescribeLogGroups", token ? { nextToken: token } : {});
      groups = groups.concat((r.logGroups || []).map(g => g.logGroupName));
      token = r.nextToken;
    } while (token);
  } catch (err) {
    if (err.name === "SignedOut") throw err;
    root.append(failure("list log groups", err));
    return;
  }
  let group = param(1) || groups[0] || "";
  const pattern = h("input", { id: "pattern", name: "pattern", size: 40, placeholder: 'e.g. ERROR, "timed out", { $.level = "error" }, [ip, user, ...]' });
  const since = h("select", { id: "since" }, [["15", "15 minutes"], ["60", "1 hour"], ["1440", "24 hours"]].map(([v, t]) => h("option", { value: v, selected: v === "60" }, t)));
  const tailBtn = h("button", { type: "button", id: "tail", "aria-pressed": "false" }, "Live tail");
  const search = h("button", { type: "submit" }, "Search");
  const out = h("pre", { class: "logs", id: "log-lines", "aria-live": "polite", tabindex: "0" });
  const status = h("p", { class: "muted", id: "log-status" });
  const form = h("form", { class: "toolbar" },
    select("Log group", groups.map(g => [g, g]), group, v => { location.hash = "#/logs/" + encodeURIComponent(v); }),
    h("label", {}, "Filter pattern ", pattern), h("label", {}, "Since ", since), search, tailBtn);
  root.append(form, status, out);
  if (!group) { status.textContent = "No log groups yet."; return; }
  const seen = new Set();
  const show = e => {
    if (seen.has(e.eventId)) return;
    seen.add(e.eventId);
    out.append(`${fmtTime(e.timestamp)} ${e.logStreamName}  ${e.message.replace(/\n$/, "")}\n`);
  };
  const fetchEvents = async startTime => {
    let token, n = 0;
    do {
      const body = { logGroupName: group, startTime, limit: 1000 };
      if (pattern.value.trim()) body.filterPattern = pattern.value.trim();
      if (token) body.nextToken = token;
      const r = await api.json("logs", "Logs_20140328.FilterLogEvents", body);
      (r.events || []).forEach(show);
      n += (r.events || []).length;
      token = r.nextToken;
    } while (token && n < 5000);
  };
  const run = async () => {
    out.replaceChildren();
    seen.clear();
    try {
      await fetchEvents(Date.now() - Number(since.value) * 60000);
      status.textContent = `${seen.size} events.`;
    } catch (err) {
      if (err.name === "SignedOut") throw err;
      out.replaceChildren();
      status.replaceChildren(failure("read this log group", err));
    }
  };
  let session = null; // the open live tail's AbortController
  const stopTail = () => {
    session?.abort(); session = null;
    tailBtn.setAttribute("aria-pressed", "false"); tailBtn.textContent = "Live tail"; delete tailBtn.dataset.session;
  };
  tailBtn.addEventListener("click", async () => {
    if (session) { stopTail(); status.textContent = "Live tail stopped."; return; }
    const ctl = new AbortController();
    session = ctl;
    tailBtn.setAttribute("aria-pressed", "true");
    tailBtn.textContent = "Stop tail";
    status.textContent = "Starting a live tail session…";
    const body = { logGroupIdentifiers: [group] };
    if (pattern.value.trim()) body.logEventFilterPattern = pattern.value.trim();
    try {
      await api.stream({ service: "logs", method: "POST", path: "/", target: "Logs_20140328.StartLiveTail", contentType: "application/x-amz-json-1.1", body: JSON.stringify(body) },
        (type, payload, kind) => {
          const v = payload ? JSON.parse(payload) : {};
          if (kind === "exception") { status.replaceChildren(h("span", { class: "error", role: "alert" }, `${type}: ${v.message || ""}`)); return; }
          if (type === "sessionStart") {
            tailBtn.dataset.session = "open";
            status.textContent = `Live tail session ${v.sessionId}: new events arrive every second.`;
          } else if (type === "sessionUpdate") {
            for (const e of v.sessionResults || []) out.append(`${fmtTime(e.timestamp)} ${e.logStreamName}  ${String(e.message).replace(/\n$/, "")}\n`);
            if ((v.sessionResults || []).length) out.scrollTop = out.scrollHeight;
            if (v.sessionMetadata?.sampled) status.textContent = "Live tail: more than 500 events a second, sampled.";
          }
        }, ctl.signal);
      if (session === ctl) { stopTail(); status.append(" The live tail session ended."); }
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.name === "SignedOut") throw err;
      if (session === ctl) stopTail();
      status.replaceChildren(failure("tail this log group", err));
    }
  });
  onLeave(stopTail);
  form.addEventListener("submit", e => { e.preventDefault(); run(); });
  await run();
}
