// The console's shell: sign-in, navigation, and the view of the URL's
// fragment (#/<page>/<params>).
import * as api from "./api.js";
import { h } from "./ui.js";
import overview from "./overview.js";
import functions from "./functions.js";
import graphs from "./graphs.js";
import logs from "./logs.js";
import stacks from "./stacks.js";
import apis from "./apis.js";
import { queues, events } from "./messaging.js";
import { buckets, tables } from "./storage.js";
import workflows from "./workflows.js";
import dashboards from "./dashboards.js";

const views = { overview, functions, graphs, logs, stacks, apis, queues, events, buckets, tables, workflows, dashboards };
const main = document.getElementById("view");
const form = document.getElementById("signin");
let cleanups = [];

// onLeave registers what to stop when the view changes (timers).
export function onLeave(f) { cleanups.push(f); }

async function render() {
  cleanups.forEach(f => f());
  cleanups = [];
  const name = location.hash.slice(2).split("/")[0] || "overview";
  const view = views[name] || overview;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const root = h("div", { id: "page", "data-page": name, "aria-busy": "true" });
  main.replaceChildren(root);
  try {
    await view(root, { onLeave });
  } catch (err) {
    if (err.name === "SignedOut") { showSignIn(); return; }
    root.append(h("p", { class: "error", role: "alert" }, err.message));
  }
  root.setAttribute("aria-busy", "false");
}

function showSignIn(msg = "") {
  cleanups.forEach(f => f());
  cleanups = [];
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  form.hidden = false;
  form.querySelector("#signin-error").textContent = msg;
  main.replaceChildren(form);
  form.querySelector("input").focus();
}

function signedIn(s) {
  form.hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  document.getElementById("who").textContent = s.principal;
  render();
}

form.addEventListener("submit", async e => {
  e.preventDefault();
  const f = new FormData(form);
  try {
    signedIn(await api.signIn(Object.fromEntries(f)));
    form.reset();
  } catch (err) {
    form.querySelector("#signin-error").textContent = err.message;
  }
});

document.getElementById("signout").addEventListener("click", async () => {
  await api.signOut();
  showSignIn("Signed out.");
});

window.addEventListener("hashchange", () => { if (form.hidden) render(); });

const s = await api.session();
if (s) signedIn(s); else showSignIn();
