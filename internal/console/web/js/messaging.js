// Queues (SQS), event buses with their rules (EventBridge) and schedules
// (EventBridge Scheduler).
import { h, panel, table, guarded } from "./ui.js";
import { json, rest } from "./api.js";

export async function queues(root) {
  root.append(h("h1", {}, "Queues"));
  const slot = h("div", {});
  root.append(slot);
  await guarded(slot, "list queues", async () => {
    const r = await json("sqs", "AmazonSQS.ListQueues", {});
    const rows = [];
    for (const url of r.QueueUrls || []) {
      const a = (await json("sqs", "AmazonSQS.GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] })).Attributes || {};
      rows.push([url.split("/").pop(), a.ApproximateNumberOfMessages ?? "", a.ApproximateNumberOfMessagesNotVisible ?? "", a.ApproximateNumberOfMessagesDelayed ?? "",
        a.VisibilityTimeout ?? "", a.RedrivePolicy ? JSON.parse(a.RedrivePolicy).deadLetterTargetArn.split(":").pop() : ""]);
    }
    return table(["Queue", "Visible", "In flight", "Delayed", "Visibility timeout (s)", "Dead-letter queue"], rows, "No queues.");
  });
}

export async function events(root) {
  root.append(h("h1", {}, "Event buses and schedules"));
  const buses = h("div", {}), scheds = h("div", {});
  root.append(panel("Event buses and rules", buses), panel("Schedules", scheds));
  await Promise.all([
    guarded(buses, "list event buses", async () => {
      const r = await json("events", "AWSEvents.ListEventBuses", {});
      const out = [];
      for (const b of r.EventBuses || []) {
        const rules = await json("events", "AWSEvents.ListRules", { EventBusName: b.Name });
        out.push(h("h3", {}, b.Name), table(["Rule", "State", "Pattern or schedule"], (rules.Rules || []).map(x =>
          [x.Name, x.State, h("code", {}, x.EventPattern || x.ScheduleExpression || "")]), "No rules."));
      }
      return out;
    }),
    guarded(scheds, "list schedules", async () => {
      const r = await rest("scheduler", "GET", "/schedules");
      const rows = [];
      // ListSchedules' summaries lack the expression: GetSchedule has it.
      for (const s of r.Schedules || []) {
        const g = s.GroupName || "default";
        const d = await rest("scheduler", "GET", `/schedules/${encodeURIComponent(s.Name)}`, "groupName=" + encodeURIComponent(g));
        rows.push([s.Name, g, s.State, h("code", {}, d.ScheduleExpression || ""), h("code", {}, s.Target?.Arn || "")]);
      }
      return table(["Schedule", "Group", "State", "Expression", "Target"], rows, "No schedules.");
    }),
  ]);
}
