// Workflows: Step Functions state machines, drawn as a graph, with an
// execution's path coloured (visited green, failed red, running blue).
import { h, panel, table, guarded, param, link, fmtEpoch } from "./ui.js";
import { json } from "./api.js";

const T = "AWSStepFunctions.";

export default async function workflows(root) {
  const arn = param(1);
  if (arn) return one(root, arn, param(2));
  root.append(h("h1", {}, "Workflows"));
  const slot = h("div", {});
  root.append(slot);
  await guarded(slot, "list state machines", async () => {
    const r = await json("states", T + "ListStateMachines", {});
    return table(["State machine", "Type", "Created"], (r.stateMachines || []).map(m =>
      [link("#/workflows/" + encodeURIComponent(m.stateMachineArn), m.name), m.type, fmtEpoch(m.creationDate)]), "No state machines.");
  });
}

// edges of a state: where it can go next.
function nexts(s) {
  const out = [];
  if (s.Next) out.push(s.Next);
  if (s.Default) out.push(s.Default);
  for (const c of s.Choices || []) if (c.Next) out.push(c.Next);
  for (const c of s.Catch || []) if (c.Next) out.push(c.Next);
  return [...new Set(out)];
}

// graph lays states out in layers (breadth first from StartAt) and draws
// them; marks maps a state's name to a class (visited, failed, current).
export function graph(def, marks = {}) {
  const states = def.States || {};
  const layer = {}, order = [];
  const q = [[def.StartAt, 0]];
  while (q.length) {
    const [n, d] = q.shift();
    if (!(n in states) || n in layer) continue;
    layer[n] = d; order.push(n);
    for (const x of nexts(states[n])) q.push([x, d + 1]);
  }
  for (const n of Object.keys(states)) if (!(n in layer)) { layer[n] = 0; order.push(n); }
  const rows = {};
  for (const n of order) (rows[layer[n]] ||= []).push(n);
  const W = 170, H = 36, GX = 30, GY = 40, pos = {};
  let width = 0;
  for (const [d, names] of Object.entries(rows)) {
    names.forEach((n, i) => { pos[n] = { x: 10 + i * (W + GX), y: 10 + Number(d) * (H + GY) }; });
    width = Math.max(width, 20 + names.length * (W + GX));
  }
  const height = 20 + Object.keys(rows).length * (H + GY);
  const ns = "http://www.w3.org/2000/svg";
  const el = (t, a, ...c) => { const e = document.createElementNS(ns, t); for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); e.append(...c); return e; };
  const svg = el("svg", { class: "sm", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "State machine graph" });
  for (const n of order) for (const x of nexts(states[n])) {
    if (!pos[x]) continue;
    svg.append(el("line", { x1: pos[n].x + W / 2, y1: pos[n].y + H, x2: pos[x].x + W / 2, y2: pos[x].y }));
  }
  for (const n of order) {
    const g = el("g", { class: marks[n] || "", "data-state": n });
    g.append(el("rect", { x: pos[n].x, y: pos[n].y, width: W, height: H, rx: 6 }),
      el("text", { x: pos[n].x + W / 2, y: pos[n].y + 22, "text-anchor": "middle" }, `${n} (${states[n].Type})`));
    svg.append(g);
  }
  return svg;
}

// pathOf reads an execution's history: the states it entered, and the
// one it failed in.
export function pathOf(events, status) {
  const marks = {};
  let lastEntered = "";
  for (const e of events) {
    const d = e.stateEnteredEventDetails;
    if (d) { marks[d.name] = "visited"; lastEntered = d.name; }
  }
  if (lastEntered && status === "FAILED") marks[lastEntered] = "failed";
  if (lastEntered && status === "RUNNING") marks[lastEntered] = "current";
  return marks;
}

async function one(root, arn, execArn) {
  const name = arn.split(":").pop();
  root.append(h("h1", {}, "Workflow ", h("code", {}, name)));
  const g = h("div", {}), ex = h("div", {});
  root.append(panel(execArn ? "Graph, with the execution's path" : "Graph", g), panel("Executions", ex));
  let def = null;
  await guarded(g, "describe this state machine", async () => {
    const m = await json("states", T + "DescribeStateMachine", { stateMachineArn: arn });
    def = JSON.parse(m.definition);
    let marks = {};
    let status = "";
    if (execArn) {
      const e = await json("states", T + "DescribeExecution", { executionArn: execArn });
      status = e.status;
      const hist = await json("states", T + "GetExecutionHistory", { executionArn: execArn, maxResults: 1000 });
      marks = pathOf(hist.events || [], status);
    }
    return [execArn ? h("p", {}, `Execution ${execArn.split(":").pop()}: `, h("strong", {}, status)) : null, graph(def, marks)];
  });
  await guarded(ex, "list executions", async () => {
    const r = await json("states", T + "ListExecutions", { stateMachineArn: arn, maxResults: 50 });
    return table(["Execution", "Status", "Started"], (r.executions || []).map(e =>
      [link(`#/workflows/${encodeURIComponent(arn)}/${encodeURIComponent(e.executionArn)}`, e.name), e.status, fmtEpoch(e.startDate)]), "No executions.");
  });
}
