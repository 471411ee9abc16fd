// Triggered by the orders table's stream: records each new order in the
// audit table.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  for (const record of event.Records) {
    const order = unmarshall(record.dynamodb.NewImage);
    await ddb.send(new PutCommand({
      TableName: process.env.AUDIT_TABLE,
      Item: { id: order.id, event: record.eventName, sequence: record.dynamodb.SequenceNumber, total: order.total },
    }));
  }
};
