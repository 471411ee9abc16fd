// API routes: HTTP APIs (API Gateway v2) and REST APIs (v1) with their
// routes and resources.
import { h, panel, table, guarded } from "./ui.js";
import { rest } from "./api.js";

export default async function apis(root) {
  root.append(h("h1", {}, "API routes"));
  const v2 = h("div", {}), v1 = h("div", {});
  root.append(panel("HTTP APIs", v2), panel("REST APIs", v1));
  await Promise.all([
    guarded(v2, "list HTTP APIs", async () => {
      const r = await rest("apigateway", "GET", "/v2/apis");
      const out = [];
      // API Gateway v2's REST-JSON members are lower camel case on the wire.
      for (const a of r.items || []) {
        const routes = await rest("apigateway", "GET", `/v2/apis/${encodeURIComponent(a.apiId)}/routes`);
        out.push(h("h3", {}, `${a.name} (${a.protocolType}) `, h("code", {}, a.apiEndpoint || a.apiId)),
          table(["Route", "Target", "Authorization"], (routes.items || []).map(x => [h("code", {}, x.routeKey), x.target || "", x.authorizationType || "NONE"]), "No routes."));
      }
      return out.length ? out : h("p", { class: "muted" }, "No HTTP APIs.");
    }),
    guarded(v1, "list REST APIs", async () => {
      const r = await rest("apigateway", "GET", "/restapis");
      const out = [];
      for (const a of r.item || []) {
        const res = await rest("apigateway", "GET", `/restapis/${encodeURIComponent(a.id)}/resources`);
        out.push(h("h3", {}, `${a.name} `, h("code", {}, a.id)),
          table(["Path", "Methods"], (res.item || []).map(x => [h("code", {}, x.path), Object.keys(x.resourceMethods || {}).join(", ")])));
      }
      return out.length ? out : h("p", { class: "muted" }, "No REST APIs.");
    }),
  ]);
}
