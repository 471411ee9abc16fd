// A stand-in for aws-lambda-java-core's interface (same package and methods),
// bundled by the test functions as real functions bundle the library.
package com.amazonaws.services.lambda.runtime;

public interface Context {
    String getAwsRequestId();
    String getLogGroupName();
    String getLogStreamName();
    String getFunctionName();
    String getFunctionVersion();
    String getInvokedFunctionArn();
    CognitoIdentity getIdentity();
    ClientContext getClientContext();
    int getRemainingTimeInMillis();
    int getMemoryLimitInMB();
    LambdaLogger getLogger();
}
