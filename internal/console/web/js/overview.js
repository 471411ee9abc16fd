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
      // Today is the report's hourly rows from 00:00 UTC on: the report
      // counts closed hours whole, so asking for "since midnight" could
      // bring in the hour before it; the rows' hours say exactly which.
      const now = new Date(), midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
      const r = await api.call({ service: "lambda", method: "GET", path: "/_nimbus/cost", query: "since=" + (now - midnight + 3600e3) + "ms" });
      const rep = JSON.parse(r.text);
      const rows = (rep.Rows || []).filter(x => Date.parse(x.Hour) >= midnight);
      const byFn = new Map();
      let cost = 0, reqs = 0, gbs = 0;
      for (const x of rows) {
        cost += x.Cost || 0; reqs += x.Requests || 0; gbs += x.GBSeconds || 0;
        const f = byFn.get(x.Function) || { Requests: 0, GBSeconds: 0, Cost: 0 };
        f.Requests += x.Requests || 0; f.GBSeconds += x.GBSeconds || 0; f.Cost += x.Cost || 0;
        byFn.set(x.Function, f);
      }
      const cur = rep.Prices?.Currency || "USD";
      return [h("p", { id: "cost-today" }, h("strong", {}, `${cost.toFixed(6)} ${cur}`),
        ` for ${reqs} requests and ${gbs.toFixed(3)} GB-seconds since 00:00 UTC, at AWS Lambda's on-demand prices in ${rep.Prices?.Region || "us-east-1"} (free tier not deducted).`),
      table(["Function", "Requests", "GB-seconds", "Cost"], [...byFn].map(([n, f]) => [n, String(f.Requests), f.GBSeconds.toFixed(3), f.Cost.toFixed(6)]), "No invocations today.")];
    }),
  ]);
  prot.append(h("p", {}, `Authentication: ${n.auth}; IAM: ${n.iam}; sandbox: ${n.sandbox}; region ${n.region}; account ${n.account}.`),
    table(["Protection", "Active", "Detail"], (n.protections || []).map(p => [p.name, p.active ? h("span", { class: "ok" }, "yes") : h("span", { class: "bad" }, "no"), p.detail || ""])));
}
