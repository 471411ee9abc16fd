// Line charts (uPlot, vendored) of CloudWatch metric data.
import { h } from "./ui.js";
import { metricData } from "./api.js";

const colors = ["#0972d3", "#d13212", "#1d8102", "#8456ce", "#ff9900", "#037f8c"];

// chart draws one line graph in a panel; update(results) redraws it with
// GetMetricData results (one series each). The data shown is kept on the
// element (data-series) so that a reader, and the tests, can check it.
export function chart(title, labels, height = 180) {
  const box = h("div", { class: "panel chart", role: "figure", "aria-label": title });
  box.append(h("h3", {}, title));
  const plotEl = h("div", {});
  box.append(plotEl);
  let plot = null;
  const update = (results, start, end) => {
    const xs = [...new Set(results.flatMap(r => r.Timestamps.map(Number)))].sort((a, b) => a - b);
    const ys = results.map(r => {
      const at = new Map(r.Timestamps.map((t, i) => [Number(t), r.Values[i]]));
      return xs.map(x => at.has(x) ? at.get(x) : null);
    });
    box.dataset.series = JSON.stringify(results.map(r => ({ id: r.Id, t: r.Timestamps.map(Number), v: r.Values })));
    box.dataset.start = String(start);
    box.dataset.end = String(end);
    box.dataset.points = String(results.reduce((n, r) => n + r.Values.length, 0));
    const data = [xs, ...ys];
    if (!window.uPlot) return;
    if (!plot) {
      const width = Math.max(plotEl.clientWidth || box.clientWidth - 32, 300);
      plot = new window.uPlot({
        width, height,
        scales: { x: { time: true, range: [start / 1000, end / 1000] } },
        series: [{}, ...labels.map((l, i) => ({ label: l, stroke: colors[i % colors.length], width: 2, spanGaps: true, points: { show: true, size: 5 } }))],
        axes: [{}, { size: 60 }],
        legend: { live: false },
        cursor: { show: false },
      }, data, plotEl);
      // uPlot's legend entries toggle their series on a click; make each a
      // keyboard control too (Tab to it, Enter or Space to toggle).
      // (With legend.live off, uPlot lists only the data series.)
      plotEl.querySelectorAll(".u-legend .u-series").forEach(tr => {
        const label = tr.textContent.trim();
        Object.assign(tr, { tabIndex: 0 });
        tr.setAttribute("role", "button");
        tr.setAttribute("aria-label", `Show or hide ${label}`);
        const sync = () => tr.setAttribute("aria-pressed", String(!tr.classList.contains("u-off")));
        sync();
        tr.addEventListener("click", sync); // after uPlot's own handler on the cell
        tr.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); (tr.querySelector("th") || tr).click(); } });
      });
    } else {
      plot.setScale("x", { min: start / 1000, max: end / 1000 });
      plot.setData(data, false);
    }
  };
  return { el: box, update };
}

// live keeps charts current: every second it asks GetMetricData for the
// last `minutes` and redraws each chart with its own queries.
export function live(defs, minutes, period, onLeave, onError) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    const end = Math.floor(Date.now() / 1000) * 1000, start = end - minutes * 60000;
    try {
      const queries = defs.flatMap((d, i) => d.queries.map((q, j) => ({ ...q, Id: `m${i}_${j}`, Period: undefined })))
        .map(q => ({ Id: q.Id, MetricStat: { Metric: q.Metric, Period: period, Stat: q.Stat }, ReturnData: true }));
      const res = await metricData(queries, start, end);
      defs.forEach((d, i) => {
        d.chart.el.dataset.queries = JSON.stringify(queries.filter(q => q.Id.startsWith(`m${i}_`)));
        d.chart.update(res.filter(r => r.Id.startsWith(`m${i}_`)), start, end);
      });
    } catch (err) {
      onError(err);
    } finally { busy = false; }
  };
  const first = tick();
  const t = setInterval(tick, 1000);
  onLeave(() => clearInterval(t));
  return first; // the view is ready once the first drawing is done
}
