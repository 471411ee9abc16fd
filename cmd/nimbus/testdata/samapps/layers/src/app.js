const { greet } = require('greeter');

exports.handler = async (event) => {
  const name = (event.queryStringParameters && event.queryStringParameters.name) || 'world';
  return { message: greet(name) };
};
