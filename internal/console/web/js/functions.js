// Functions: the list, and one function's configuration, versions,
// aliases, an invoke form and its last invocations (from REPORT lines).
import { h, panel, table, guarded, param, link, fmtTime } from "./ui.js";
import * as api from "./api.js";

const fpath = n => "/2015-03-31/functions/" + encodeURIComponent(n);

export default async function functions(root) {
  const name = param(1);
  if (name) return one(root, name);
  root.append(h("h1", {}, "Functions"));
  const slot = h("div", {});
  root.append(slot);
  await guarded(slot, "list functions", async () => {
    const r = await api.rest("lambda", "GET", "/2015-03-31/functions");
    return table(["Name", "Runtime", "Memory (MB)", "Timeout (s)", "Last modified"],
      (r.Functions || []).map(f => [link("#/functions/" + encodeURIComponent(f.FunctionName), f.FunctionName), f.Runtime || f.PackageType || "", String(f.MemorySize), String(f.Timeout), f.LastModified || ""]),
      "No functions yet: deploy one with nimbus deploy or aws lambda create-function.");
  });
}

// reports parses the REPORT lines of a function's log.
export function parseReport(msg) {
  const m = /REPORT RequestId:\s*(\S+)\s+Duration:\s*([\d.]+) ms.*?(?:Init Duration:\s*([\d.]+) ms)?\s*$/s.exec(msg);
  return m ? { id: m[1], duration: Number(m[2]), init: m[3] ? Number(m[3]) : null } : null;
}

async function one(root, name) {
  root.append(h("h1", {}, "Function ", h("code", {}, name)), h("p", {}, link("#/graphs/" + encodeURIComponent(name), "Live graphs"), " · ", link("#/logs/" + encodeURIComponent("/aws/lambda/" + name), "Logs")));
  const conf = h("div", {}), vers = h("div", {}), aliases = h("div", {}), recent = h("div", {});
  const payload = h("textarea", { id: "payload", "aria-label": "Payload (JSON)" }, "{}");
  const out = h("div", { id: "invoke-result", "aria-live": "polite" });
  const invoke = h("button", { type: "button", id: "invoke" }, "Invoke");
  invoke.addEventListener("click", async () => {
    out.replaceChildren(h("p", { class: "muted" }, "Invoking…"));
    await guarded(out, "invoke this function", async () => {
      const r = await api.call({ service: "lambda", method: "POST", path: fpath(name) + "/invocations", body: payload.value, contentType: "application/json", headers: { "X-Amz-Log-Type": "Tail" } });
      const logs = r.headers.get("X-Amz-Log-Result");
      const ferr = r.headers.get("X-Amz-Function-Error");
      return [h("p", {}, ferr ? h("span", { class: "bad" }, `Function error (${ferr})`) : h("span", { class: "ok" }, `Status ${r.status}`)),
        h("pre", { class: "result" }, r.text), logs ? h("pre", {}, atob(logs)) : null];
    });
    loadRecent();
  });
  root.append(panel("Configuration", conf), panel("Invoke", h("label", { for: "payload" }, "Payload (JSON)"), payload, h("p", {}, invoke), out),
    panel("Last invocations", recent), h("div", { class: "grid" }, panel("Versions", vers), panel("Aliases", aliases)));
  const loadRecent = () => guarded(recent, "read this function's log", async () => {
    const r = await api.json("logs", "Logs_20140328.FilterLogEvents", { logGroupName: "/aws/lambda/" + name, filterPattern: "REPORT", startTime: Date.now() - 24 * 3600e3 });
    const rows = (r.events || []).map(e => ({ t: e.timestamp, ...parseReport(e.message) })).filter(x => x.id).slice(-20).reverse();
    return table(["Time", "Request id", "Duration (ms)", "Init (ms)"], rows.map(x => [fmtTime(x.t), h("code", {}, x.id), String(x.duration), x.init == null ? "warm" : String(x.init)]), "No invocations in the last 24 hours.");
  });
  await Promise.all([
    guarded(conf, "read this function", async () => {
      const f = (await api.rest("lambda", "GET", fpath(name))).Configuration || {};
      const rows = [["ARN", f.FunctionArn], ["Runtime", f.Runtime || f.PackageType], ["Handler", f.Handler], ["Role", f.Role], ["Memory (MB)", f.MemorySize], ["Timeout (s)", f.Timeout],
        ["Architectures", (f.Architectures || []).join(", ")], ["State", f.State], ["Code size", f.CodeSize], ["Environment", Object.keys(f.Environment?.Variables || {}).join(", ") || "none"]];
      return table(["Setting", "Value"], rows.filter(r => r[1] !== undefined).map(([k, v]) => [k, String(v ?? "")]));
    }),
    guarded(vers, "list versions", async () => {
      const r = await api.rest("lambda", "GET", fpath(name) + "/versions");
      return table(["Version", "Description", "Last modified"], (r.Versions || []).map(v => [v.Version, v.Description || "", v.LastModified || ""]));
    }),
    guarded(aliases, "list aliases", async () => {
      const r = await api.rest("lambda", "GET", fpath(name) + "/aliases");
      return table(["Alias", "Version", "Routing"], (r.Aliases || []).map(a => [a.Name, a.FunctionVersion, JSON.stringify(a.RoutingConfig?.AdditionalVersionWeights || {})]));
    }),
    loadRecent(),
  ]);
}
