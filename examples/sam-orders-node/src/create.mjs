// Writes an order with the AWS SDK v3's document client, as a Lambda
// function on AWS does, and answers the order as stored.
import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = async (event) => {
  let input = event;
  if (event && typeof event.body === "string") {
    input = JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, "base64").toString() : event.body);
  }
  const order = {
    id: input.id ?? randomUUID(),
    customer: input.customer,
    total: input.total,
    items: input.items ?? [],
    createdAt: new Date().toISOString(),
  };
  await ddb.send(new PutCommand({
    TableName: process.env.TABLE_NAME,
    Item: order,
    ConditionExpression: "attribute_not_exists(id)",
  }));
  const { Item } = await ddb.send(new GetCommand({
    TableName: process.env.TABLE_NAME, Key: { id: order.id }, ConsistentRead: true,
  }));
  return { statusCode: 201, headers: { "content-type": "application/json" }, body: JSON.stringify(Item) };
};
