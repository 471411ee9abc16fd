// Overview: the node's health, its protections, concurrency in use and
// today's cost.
import { h, panel, table, guarded } from "./ui.js";
import * as api from "./api.js";

const card = (label, value, cls) => h("div", { class: "panel card" }, h("div", { class: "muted" }, label), h("div", { class: "n " + (cls || "") }, value));

export default async function overview(root) {
  root.append(h("h1", {}, "Overview"));
  const cards = h("div", { class: "cards" });
  const prot = h("div", {}), cost = h("div", {});
  root.append(cards, panel("Protections", prot), panel("Cost today (as AWS Lambda would bill it)", cost));
  const health = async path => {
    try { const r = await api.call({ service: "lambda", method: "GET", path }); return r.status === 200; } catch { return false; }
  };
  const [n, live, ready] = await Promise.all([api.node(), health("/healthz"), health("/readyz")]);
  cards.append(card("Health", live && ready ? "healthy" : (live ? "not ready" : "unhealthy"), live && ready ? "ok" : "bad"));
  const conc = h("div", { class: "panel card" }), fns = h("div", { class: "panel card" });
  cards.append(fns, conc);
  await Promise.all([
    guarded(fns, "list functions", async () => {
      const r = await api.rest("lambda", "GET", "/2015-03-31/functions");
      return [h("div", { class: "muted" }, "Functions"), h("div", { class: "n" }, String((r.Functions || []).length))];
    }),
    guarded(conc, "read metrics", async () => {
      const end = Date.now(), start = end - 5 * 60000;
      const [r] = await api.metricData([{ Id: "c", MetricStat: { Metric: { Namespace: "AWS/Lambda", MetricName: "ConcurrentExecutions", Dimensions: [] }, Period: 60, Stat: "Maximum" } }], start, end);
      const v = r.Values.length ? r.Values[r.Values.length - 1] : 0;
      let limit = "";
      try { const s = await api.rest("lambda", "GET", "/2016-08-19/account-settings"); limit = ` of ${s.AccountLimit?.ConcurrentExecutions ?? "?"}`; } catch { /* the limit is optional here */ }
      return [h("div", { class: "muted" }, "Concurrency in use (max, last minute)"), h("div", { class: "n" }, `${v}${limit}`)];
    }),
    guarded(cost, "read the cost report", async () => {
      const now = new Date(), midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
      const mins = Math.max(1, Math.ceil((now - midnight) / 60000));
      const r = await api.call({ service: "lambda", method: "GET", path: "/_nimbus/cost", query: "since=" + mins + "m" });
      const rep = JSON.parse(r.text);
      return [h("p", {}, h("strong", {}, `${(rep.Cost ?? 0).toFixed(6)} ${rep.Prices?.Currency || "USD"}`),
        ` for ${rep.Requests ?? 0} requests and ${(rep.GBSeconds ?? 0).toFixed(3)} GB-seconds since 00:00 UTC.`),
      table(["Function", "Requests", "GB-seconds", "Cost"], (rep.Functions || []).map(f => [f.Function ?? f.FunctionName ?? "", String(f.Requests ?? ""), (f.GBSeconds ?? 0).toFixed(3), (f.Cost ?? 0).toFixed(6)]), "No invocations today.")];
    }),
  ]);
  prot.append(h("p", {}, `Authentication: ${n.auth}; IAM: ${n.iam}; sandbox: ${n.sandbox}; region ${n.region}; account ${n.account}.`),
    table(["Protection", "Active", "Detail"], (n.protections || []).map(p => [p.name, p.active ? h("span", { class: "ok" }, "yes") : h("span", { class: "bad" }, "no"), p.detail || ""])));
}
