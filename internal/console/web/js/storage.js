// Buckets (S3) and tables (DynamoDB).
import { h, panel, table, guarded, param, link } from "./ui.js";
import { call, json, xtext, xall } from "./api.js";

const xml = t => new DOMParser().parseFromString(t, "application/xml");

export async function buckets(root) {
  const name = param(1);
  root.append(h("h1", {}, name ? ["Bucket ", h("code", {}, name)] : "Buckets"));
  const slot = h("div", {});
  root.append(slot);
  if (!name) {
    await guarded(slot, "list buckets", async () => {
      const doc = xml((await call({ service: "s3", method: "GET", path: "/" })).text);
      return table(["Bucket", "Created"], xall(doc, "Bucket").map(b => [link("#/buckets/" + encodeURIComponent(xtext(b, "Name")), xtext(b, "Name")), xtext(b, "CreationDate")]), "No buckets.");
    });
    return;
  }
  await guarded(slot, "list this bucket's objects", async () => {
    const doc = xml((await call({ service: "s3", method: "GET", path: "/" + encodeURIComponent(name), query: "list-type=2&max-keys=200" })).text);
    return table(["Key", "Size", "Last modified"], xall(doc, "Contents").map(c => [h("code", {}, xtext(c, "Key")), xtext(c, "Size"), xtext(c, "LastModified")]), "Empty.");
  });
}

export async function tables(root) {
  const name = param(1);
  root.append(h("h1", {}, name ? ["Table ", h("code", {}, name)] : "Tables"));
  const slot = h("div", {});
  root.append(slot);
  if (!name) {
    await guarded(slot, "list tables", async () => {
      const r = await json("dynamodb", "DynamoDB_20120810.ListTables", {});
      return table(["Table"], (r.TableNames || []).map(t => [link("#/tables/" + encodeURIComponent(t), t)]), "No tables.");
    });
    return;
  }
  const desc = h("div", {}), items = h("div", {});
  slot.append(panel("Description", desc), panel("First items", items));
  await Promise.all([
    guarded(desc, "describe this table", async () => {
      const t = (await json("dynamodb", "DynamoDB_20120810.DescribeTable", { TableName: name })).Table || {};
      return table(["Setting", "Value"], [["Status", t.TableStatus], ["Key", (t.KeySchema || []).map(k => `${k.AttributeName} (${k.KeyType})`).join(", ")],
        ["Items", String(t.ItemCount ?? "")], ["Billing", t.BillingModeSummary?.BillingMode || "PROVISIONED"], ["Stream", t.StreamSpecification?.StreamViewType || "none"]]);
    }),
    guarded(items, "scan this table", async () => {
      const r = await json("dynamodb", "DynamoDB_20120810.Scan", { TableName: name, Limit: 25 });
      return h("pre", {}, (r.Items || []).map(i => JSON.stringify(i)).join("\n") || "No items.");
    }),
  ]);
}
