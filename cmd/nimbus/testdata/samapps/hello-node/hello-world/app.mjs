/**
 * Sample Lambda function: answers the API Gateway proxy event.
 */
export const lambdaHandler = async (event, context) => {
  return {
    statusCode: 200,
    body: JSON.stringify({
      message: 'hello world',
      path: event.path,
      stage: event.requestContext.stage,
      function: context.functionName,
      runtime: process.env.AWS_EXECUTION_ENV || '',
    }),
  };
};
