// Dashboards: CloudWatch dashboards (PutDashboard bodies) drawn as
// CloudWatch draws them: a 24-column grid of metric widgets (line graphs,
// or single values), text widgets (markdown) and alarm widgets (their
// states); what Nimbus cannot draw says so.
import { h, table, guarded, param, link, fmtEpoch } from "./ui.js";
import { json, metricData } from "./api.js";
import { chart } from "./charts.js";

const T = "GraniteServiceVersion20100801.";

export default async function dashboards(root, { onLeave }) {
  const name = param(1);
  if (name) return one(root, name, onLeave);
  root.append(h("h1", {}, "Dashboards"));
  const slot = h("div", {});
  root.append(slot);
  await guarded(slot, "list dashboards", async () => {
    const r = await json("monitoring", T + "ListDashboards", {});
    return table(["Dashboard", "Last modified", "Size"], (r.DashboardEntries || []).map(d => [link("#/dashboards/" + encodeURIComponent(d.DashboardName), d.DashboardName),
      fmtEpoch(d.LastModified), String(d.Size ?? "")]), "No dashboards: create one with aws cloudwatch put-dashboard.");
  });
}

// metricQueries turns a metric widget's "metrics" array (CloudWatch's
// compact form: [ns, name, dim, value, ..., {options}], "." repeating the
// row above) into GetMetricData queries.
export function metricQueries(metrics, stat, period) {
  let prev = [];
  return (metrics || []).map((row, i) => {
    const opts = typeof row[row.length - 1] === "object" && !Array.isArray(row[row.length - 1]) ? row[row.length - 1] : {};
    const parts = (opts === row[row.length - 1] ? row.slice(0, -1) : row).map((p, j) => p === "." ? prev[j] : p);
    prev = parts;
    if (opts.expression) return { Id: opts.id || `e${i}`, Expression: opts.expression, Label: opts.label, ReturnData: opts.visible !== false };
    const [ns, mname, ...dims] = parts;
    const Dimensions = [];
    for (let j = 0; j + 1 < dims.length; j += 2) Dimensions.push({ Name: dims[j], Value: dims[j + 1] });
    return { Id: opts.id || `m${i}`, Label: opts.label || mname, ReturnData: opts.visible !== false,
      MetricStat: { Metric: { Namespace: ns, MetricName: mname, Dimensions }, Period: opts.period || period, Stat: opts.stat || stat } };
  });
}

// markdown renders CloudWatch text widgets' markdown: headings, lists,
// emphasis, code and links, everything escaped.
export function markdown(src) {
  const box = h("div", { class: "md" });
  const inline = s => {
    const out = [];
    const re = /(\*\*[^*]+\*\*|\*[^*]+\*|`[^`]+`|\[[^\]]+\]\([^)\s]+\))/g;
    let i = 0, m;
    while ((m = re.exec(s))) {
      out.push(s.slice(i, m.index));
      const t = m[0];
      if (t.startsWith("**")) out.push(h("strong", {}, t.slice(2, -2)));
      else if (t.startsWith("`")) out.push(h("code", {}, t.slice(1, -1)));
      else if (t.startsWith("[")) {
        const [, text, href] = /\[([^\]]+)\]\(([^)]+)\)/.exec(t);
        out.push(/^(https?:|#|\/)/.test(href) ? h("a", { href, rel: "noreferrer" }, text) : text);
      } else out.push(h("em", {}, t.slice(1, -1)));
      i = m.index + t.length;
    }
    out.push(s.slice(i));
    return out;
  };
  let list = null;
  for (const line of String(src).split("\n")) {
    const hm = /^(#{1,6})\s+(.*)$/.exec(line), lm = /^\s*[-*+]\s+(.*)$/.exec(line);
    if (lm) { if (!list) { list = h("ul", {}); box.append(list); } list.append(h("li", {}, inline(lm[1]))); continue; }
    list = null;
    if (hm) box.append(h("h" + Math.min(6, hm[1].length + 1), {}, inline(hm[2])));
    else if (line.trim()) box.append(h("p", {}, inline(line)));
  }
  return box;
}

async function one(root, name, onLeave) {
  root.append(h("h1", {}, "Dashboard ", h("code", {}, name)));
  const grid = h("div", { class: "dash" });
  root.append(grid);
  let body;
  try {
    body = JSON.parse((await json("monitoring", T + "GetDashboard", { DashboardName: name })).DashboardBody || "{}");
  } catch (err) {
    if (err.name === "SignedOut") throw err;
    await guarded(grid, "read this dashboard", () => { throw err; });
    return;
  }
  const charts = [], singles = [], pending = [], range = 3 * 3600e3;
  let y = 0;
  for (const w of body.widgets || []) {
    const width = w.width || 6, height = w.height || 6;
    const wy = w.y ?? y, wx = w.x ?? 0;
    y = Math.max(y, wy + height);
    let cell;
    const p = w.properties || {};
    const view = p.view || "timeSeries";
    if (w.type === "text") cell = h("div", { class: "panel" }, markdown(p.markdown || ""));
    else if (w.type === "metric" && view === "timeSeries") {
      const qs = metricQueries(p.metrics, p.stat || "Average", p.period || 300);
      const c = chart(p.title || qs.map(q => q.Label).join(", "), qs.filter(q => q.ReturnData !== false).map(q => q.Label || q.Id), Math.max(120, height * 46 - 60));
      charts.push({ c, qs, period: p.period || 300 });
      cell = c.el;
    } else if (w.type === "metric" && view === "singleValue") {
      // The latest datapoint of each metric (or, with setPeriodToTimeRange,
      // the statistic over the whole time range), as CloudWatch shows it.
      const period = p.setPeriodToTimeRange ? range / 1000 : p.period || 300;
      const qs = metricQueries(p.metrics, p.stat || "Average", period).map(q => q.MetricStat && p.setPeriodToTimeRange ? { ...q, MetricStat: { ...q.MetricStat, Period: period } } : q);
      const values = h("div", { class: "singles" });
      cell = h("div", { class: "panel single", role: "figure", "aria-label": p.title || "Single value" }, h("h3", {}, p.title || ""), values);
      singles.push({ qs, values });
    } else if (w.type === "alarm") {
      cell = h("div", { class: "panel", role: "figure", "aria-label": p.title || "Alarms" }, h("h3", {}, p.title || "Alarms"));
      const slot = h("div", {});
      cell.append(slot);
      const names = (p.alarms || []).map(a => String(a).split(":alarm:").pop());
      pending.push(guarded(slot, "describe these alarms", async () => {
        const r = names.length ? await json("monitoring", T + "DescribeAlarms", { AlarmNames: names }) : {};
        const byName = new Map([...(r.MetricAlarms || []), ...(r.CompositeAlarms || [])].map(a => [a.AlarmName, a]));
        let rows = names.map(n => byName.get(n) || { AlarmName: n, StateValue: "not found" });
        if (p.states) rows = rows.filter(a => p.states.includes(a.StateValue));
        if (p.sortBy === "stateUpdatedTimestamp") rows.sort((a, b) => String(b.StateUpdatedTimestamp).localeCompare(String(a.StateUpdatedTimestamp)));
        else if (p.sortBy === "state") rows.sort((a, b) => ["ALARM", "INSUFFICIENT_DATA", "OK"].indexOf(a.StateValue) - ["ALARM", "INSUFFICIENT_DATA", "OK"].indexOf(b.StateValue));
        return table(["Alarm", "State", "Reason"], rows.map(a => [a.AlarmName, h("span", { class: a.StateValue === "ALARM" ? "bad" : a.StateValue === "OK" ? "ok" : "muted", "data-state": a.StateValue }, a.StateValue), a.StateReason || ""]), "No alarms in the states shown.");
      }));
    } else {
      // What Nimbus cannot draw honestly is said, not left blank.
      const what = w.type === "metric" ? `The ${view} view of metric widgets` : w.type === "log" ? "Log widgets (CloudWatch Logs Insights queries)" : `${w.type} widgets`;
      cell = h("div", { class: "panel muted unsupported", role: "note" }, h("h3", {}, p.title || w.type), h("p", {}, `${what}: not supported by Nimbus.`));
    }
    cell.style.gridColumn = `${wx + 1} / span ${width}`;
    cell.style.gridRow = `${wy + 1} / span ${height}`;
    grid.append(cell);
  }
  const refresh = async () => {
    const end = Date.now(), start = end - range;
    for (const { c, qs } of charts) {
      try {
        const res = await metricData(qs, start, end);
        c.update(res.filter((r, i) => qs[i].ReturnData !== false), start, end);
      } catch (err) { c.el.append(h("p", { class: "error", role: "alert" }, err.message)); }
    }
    for (const { qs, values } of singles) {
      await guarded(values, "read these metrics", async () => {
        const res = await metricData(qs, start, end);
        return res.filter((r, i) => qs[i].ReturnData !== false).map((r, i) => {
          const last = r.Values.length ? r.Values[r.Values.length - 1] : null;
          return h("div", { class: "single-value", "data-value": last ?? "" }, h("div", { class: "muted" }, qs[i].Label || r.Id),
            h("div", { class: "n" }, last == null ? "no data" : String(Math.round(last * 1000) / 1000)));
        });
      });
    }
  };
  await Promise.all([refresh(), ...pending]);
  const t = setInterval(refresh, 60000);
  onLeave(() => clearInterval(t));
}
