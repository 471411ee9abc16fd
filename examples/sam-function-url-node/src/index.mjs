// A function URL handler (payload format 2.0), deployed by template.yaml.
import { randomUUID } from "node:crypto";

// Drawn once per execution environment: warm invocations answer the same id.
const environment = randomUUID().slice(0, 16);

export const handler = async (event) => {
  const name = event.queryStringParameters?.name ?? "world";
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      message: `Hello, ${name}!`,
      method: event.requestContext?.http?.method,
      environment,
    }),
  };
};
