// A Node.js Lambda function (ES module), deployed with
// --runtime nodejs20.x --handler index.handler.
let invocations = 0; // survives across invocations of one environment

export const handler = async (event, context) => {
  invocations += 1;
  const name = (event && event.name) || "world";
  console.log(`greeting ${name}`);
  return {
    message: `Hello, ${name}!`,
    requestId: context.awsRequestId,
    function: process.env.AWS_LAMBDA_FUNCTION_NAME,
    remainingMs: context.getRemainingTimeInMillis(),
    count: invocations,
  };
};
