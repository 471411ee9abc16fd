// Small DOM helpers: no framework.
import { Denied } from "./api.js";

// h builds an element: h("a", {href: "#"}, "text", child...).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// table renders rows (arrays of cells) under headings.
export function table(heads, rows, empty = "None.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, heads.map(x => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map(r => h("tr", {}, r.map(c => h("td", {}, c))))));
}

export const panel = (title, ...body) => h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...body);

// failure renders an error: an access-denied panel names what IAM refused.
export function failure(what, err) {
  if (err instanceof Denied) {
    return h("section", { class: "panel denied", role: "alert", dataset: { denied: "true" } },
      h("h2", {}, "Access denied"), h("p", {}, `You may not ${what}. `, h("span", { class: "muted" }, err.message)));
  }
  return h("section", { class: "panel denied", role: "alert" }, h("h2", {}, `Could not ${what}`), h("p", { class: "error" }, err.message));
}

// guarded runs f and renders its result, or the failure, into slot.
export async function guarded(slot, what, f) {
  try {
    const out = await f();
    slot.replaceChildren(...[out].flat().filter(Boolean));
  } catch (err) {
    if (err.name === "SignedOut") throw err;
    slot.replaceChildren(failure(what, err));
  }
}

export const fmtTime = ms => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");

// fmtEpoch formats a JSON protocol timestamp (epoch seconds, or an ISO
// string from a query-protocol answer).
export const fmtEpoch = v => v == null || v === "" ? "" : fmtTime(typeof v === "number" ? v * 1000 : Date.parse(v));
export const link = (href, text) => h("a", { href }, text);

// select builds a labelled <select>.
export function select(label, options, value, onchange) {
  const s = h("select", { onchange: e => onchange(e.target.value) }, options.map(([v, t]) => h("option", { value: v, selected: v === value }, t)));
  return h("label", {}, label + " ", s);
}

// pick is the route's parameter i (#/functions/<name> → 1).
export const param = i => decodeURIComponent((location.hash.slice(2).split("/")[i]) || "");
