// Live graphs of a function (or every function): invocations, errors,
// throttles, duration percentiles, cold starts and concurrency, from
// CloudWatch's GetMetricData, redrawn every second.
import { h, select, param, failure } from "./ui.js";
import { rest } from "./api.js";
import { chart, live } from "./charts.js";

export function lambdaCharts(fn) {
  const dims = fn ? [{ Name: "FunctionName", Value: fn }] : [];
  const m = (ns, name) => ({ Namespace: ns, MetricName: name, Dimensions: dims });
  const l = name => m("AWS/Lambda", name);
  return [
    { chart: chart("Invocations", ["Sum"]), queries: [{ Metric: l("Invocations"), Stat: "Sum" }] },
    { chart: chart("Errors", ["Sum"]), queries: [{ Metric: l("Errors"), Stat: "Sum" }] },
    { chart: chart("Throttles", ["Sum"]), queries: [{ Metric: l("Throttles"), Stat: "Sum" }] },
    { chart: chart("Duration (ms)", ["p50", "p90", "p99"]), queries: ["p50", "p90", "p99"].map(s => ({ Metric: l("Duration"), Stat: s })) },
    { chart: chart("Cold starts", ["Sum"]), queries: [{ Metric: m("Nimbus/Lambda", "ColdStarts"), Stat: "Sum" }] },
    { chart: chart("Concurrent executions", ["Maximum"]), queries: [{ Metric: l("ConcurrentExecutions"), Stat: "Maximum" }] },
  ];
}

export default async function graphs(root, { onLeave }) {
  const fn = param(1);
  root.append(h("h1", {}, "Live graphs"));
  let names = [];
  try {
    names = ((await rest("lambda", "GET", "/2015-03-31/functions")).Functions || []).map(f => f.FunctionName);
  } catch (err) {
    if (err.name === "SignedOut") throw err;
    root.append(failure("list functions", err));
  }
  const minutes = 30;
  root.append(h("div", { class: "toolbar" },
    select("Function", [["", "All functions"], ...names.map(n => [n, n])], fn, v => { location.hash = "#/graphs/" + encodeURIComponent(v); }),
    h("span", { class: "muted" }, `Last ${minutes} minutes, 1-minute periods, updated every second.`)));
  const errSlot = h("div", {});
  const defs = lambdaCharts(fn);
  root.append(errSlot, h("div", { class: "grid" }, defs.map(d => d.chart.el)));
  await live(defs, minutes, 60, onLeave, err => {
    if (err.name === "SignedOut") throw err;
    errSlot.replaceChildren(failure("read metrics", err));
  });
}
