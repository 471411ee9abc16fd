// Stacks: CloudFormation's stacks, one stack's resources, outputs and
// events (query protocol: XML answers).
import { h, panel, table, guarded, param, link } from "./ui.js";
import { query, xtext, xall } from "./api.js";

const V = "2010-05-15";
const members = (doc, list) => xall(doc, list).flatMap(l => Array.from(l.children).filter(c => c.tagName === "member"));

export default async function stacks(root) {
  const name = param(1);
  if (name) return one(root, name);
  root.append(h("h1", {}, "Stacks"));
  const slot = h("div", {});
  root.append(slot);
  await guarded(slot, "list stacks", async () => {
    const doc = await query("cloudformation", "ListStacks", V);
    const rows = members(doc, "StackSummaries").filter(m => xtext(m, "StackStatus") !== "DELETE_COMPLETE")
      .map(m => [link("#/stacks/" + encodeURIComponent(xtext(m, "StackName")), xtext(m, "StackName")), xtext(m, "StackStatus"), xtext(m, "LastUpdatedTime") || xtext(m, "CreationTime")]);
    return table(["Stack", "Status", "Updated"], rows, "No stacks: deploy a SAM template with nimbus deploy.");
  });
}

async function one(root, name) {
  root.append(h("h1", {}, "Stack ", h("code", {}, name)));
  const res = h("div", {}), outs = h("div", {}), evs = h("div", {});
  root.append(panel("Resources", res), panel("Outputs", outs), panel("Events", evs));
  await Promise.all([
    guarded(res, "list this stack's resources", async () => {
      const doc = await query("cloudformation", "ListStackResources", V, { StackName: name });
      return table(["Logical id", "Type", "Physical id", "Status"], members(doc, "StackResourceSummaries").map(m =>
        [xtext(m, "LogicalResourceId"), xtext(m, "ResourceType"), h("code", {}, xtext(m, "PhysicalResourceId")), xtext(m, "ResourceStatus")]));
    }),
    guarded(outs, "describe this stack", async () => {
      const doc = await query("cloudformation", "DescribeStacks", V, { StackName: name });
      return table(["Output", "Value"], members(doc, "Outputs").map(m => [xtext(m, "OutputKey"), h("code", {}, xtext(m, "OutputValue"))]));
    }),
    guarded(evs, "read this stack's events", async () => {
      const doc = await query("cloudformation", "DescribeStackEvents", V, { StackName: name });
      return table(["Time", "Logical id", "Type", "Status", "Reason"], members(doc, "StackEvents").map(m =>
        [xtext(m, "Timestamp"), xtext(m, "LogicalResourceId"), xtext(m, "ResourceType"), xtext(m, "ResourceStatus"), xtext(m, "ResourceStatusReason")]));
    }),
  ]);
}
