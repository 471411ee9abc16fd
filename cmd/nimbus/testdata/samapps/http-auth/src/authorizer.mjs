// A simple-response Lambda authorizer: the token "allow-me" is allowed.
export const handler = async (event) => {
  const token = (event.headers && event.headers.authorization) || '';
  return {
    isAuthorized: token === 'allow-me',
    context: { user: 'tester' },
  };
};
