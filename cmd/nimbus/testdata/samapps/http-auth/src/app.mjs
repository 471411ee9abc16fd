export const handler = async (event) => {
  const authorizer = event.requestContext.authorizer || {};
  return {
    route: event.routeKey,
    user: (authorizer.lambda && authorizer.lambda.user) || null,
  };
};
