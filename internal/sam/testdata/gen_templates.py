#!/usr/bin/env python3
"""Writes the differential test's templates (templates/*.json, which
samtranslator must accept, and invalid/*.json, which it must reject).
Run from this directory after editing; then `go test ./internal/sam -update`.
"""
import json, os
T = "AWS::Serverless-2016-10-31"
def fn(**p):
    base = {"CodeUri": "s3://nimbus-artifacts/0a1b2c3d", "Handler": "app.handler", "Runtime": "python3.12"}
    base.update(p)
    return {"Type": "AWS::Serverless::Function", "Properties": base}
def sub(s): return {"Fn::Sub": s}
def ref(s): return {"Ref": s}
def ga(a, b): return {"Fn::GetAtt": [a, b]}
tpls = {}
tpls["hello_api"] = {"Transform": T, "Description": "hello world", "Resources": {
  "HelloFunction": fn(Events={"Hello": {"Type": "Api", "Properties": {"Path": "/hello", "Method": "get"}}})},
  "Outputs": {
    "HelloApi": {"Value": sub("https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/")},
    "HelloFunctionArn": {"Value": ga("HelloFunction", "Arn")},
    "HelloRole": {"Value": ga("HelloFunctionRole", "Arn")},
    "Stage": {"Value": ref("ServerlessRestApiProdStage")}}}
tpls["http_api"] = {"Transform": T, "Resources": {
  "Api": fn(Events={"Root": {"Type": "HttpApi"}, "Items": {"Type": "HttpApi", "Properties": {"Path": "/items/{id}", "Method": "GET", "PayloadFormatVersion": "1.0"}}}),
  "Other": fn(Handler="other.handler", Events={"Post": {"Type": "HttpApi", "Properties": {"Path": "/other", "Method": "post", "TimeoutInMillis": 5000}}})},
  "Outputs": {"Url": {"Value": sub("https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/")},
              "StageRef": {"Value": ref("ServerlessHttpApi.Stage")}}}
tpls["explicit_api_body"] = {"Transform": T, "Resources": {
  "MyApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "dev", "DefinitionBody": {
     "swagger": "2.0", "info": {"title": "mine", "version": "1"},
     "paths": {"/pets": {"get": {"x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST",
        "uri": sub("arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${PetsFunction.Arn}/invocations")}, "responses": {}}}}}}},
  "PetsFunction": fn(Events={"Pets": {"Type": "Api", "Properties": {"Path": "/pets", "Method": "get", "RestApiId": ref("MyApi")}}})},
  "Outputs": {"Stage": {"Value": ref("MyApi.Stage")}, "Deployment": {"Value": ref("MyApi.Deployment")},
              "Url": {"Value": sub("https://${MyApi}.execute-api.${AWS::Region}.amazonaws.com/${MyApi.Stage}/pets")}}}
tpls["explicit_api_managed"] = {"Transform": T, "Resources": {
  "MyApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "v1", "Name": "pets-api", "Description": "Pets",
     "Variables": {"mode": "test"}, "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingBurstLimit": 10}],
     "BinaryMediaTypes": ["image~1png", "*~1*"], "EndpointConfiguration": "REGIONAL", "TracingEnabled": True,
     "Tags": {"team": "a"}}},
  "Reader": fn(Events={"List": {"Type": "Api", "Properties": {"Path": "/pets", "Method": "get", "RestApiId": ref("MyApi")}},
                       "One": {"Type": "Api", "Properties": {"Path": "/pets/{id}", "Method": "get", "RestApiId": ref("MyApi"),
                               "RequestParameters": ["method.request.header.Authorization", {"method.request.querystring.q": {"Required": True, "Caching": True}}]}}}),
  "Writer": fn(Handler="w.handler", Events={"Put": {"Type": "Api", "Properties": {"Path": "/pets/{id}", "Method": "put", "RestApiId": ref("MyApi"), "TimeoutInMillis": 2000}}})},
  "Outputs": {"Deployment": {"Value": ref("MyApi.Deployment")}, "Stage": {"Value": ref("MyApi.Stage")}}}
tpls["alias_provisioned"] = {"Transform": T, "Resources": {
  "Fn": fn(AutoPublishAlias="live", MemorySize=256, Environment={"Variables": {"A": "1"}},
           ProvisionedConcurrencyConfig={"ProvisionedConcurrentExecutions": 2}, VersionDescription="v",
           Events={"Get": {"Type": "Api", "Properties": {"Path": "/", "Method": "any"}}})},
  "Outputs": {"Alias": {"Value": ref("Fn.Alias")}, "Version": {"Value": ref("Fn.Version")},
              "AliasArn": {"Value": ga("Fn.Alias", "Arn")}, "VersionNumber": {"Value": ga("Fn.Version", "Version")},
              "Sub": {"Value": sub("${Fn.Alias}")}}}
tpls["function_url"] = {"Transform": T, "Resources": {
  "Public": fn(FunctionUrlConfig={"AuthType": "NONE", "InvokeMode": "BUFFERED", "Cors": {"AllowOrigins": ["*"], "AllowMethods": ["GET"], "MaxAge": 60}}),
  "Private": fn(AutoPublishAlias="prod-1_a", FunctionUrlConfig={"AuthType": "AWS_IAM"})},
  "Outputs": {"PublicUrl": {"Value": ga("PublicUrl", "FunctionUrl")}, "PrivateUrl": {"Value": ga("PrivateUrl", "FunctionUrl")}}}
tpls["layers"] = {"Transform": T, "Resources": {
  "DepsLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"LayerName": "deps", "ContentUri": "s3://nimbus-artifacts/layer1",
     "CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["x86_64"], "Description": "deps", "LicenseInfo": "MIT"}},
  "OtherLayer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": {"Bucket": "b", "Key": "k", "Version": "3"}, "RetentionPolicy": "delete"}},
  "Fn": fn(Layers=[ref("DepsLayer"), ref("OtherLayer"), "arn:aws:lambda:us-east-1:123456789012:layer:x:1"], AutoPublishAlias="live"),
  "Waiter": {"Type": "AWS::Lambda::Permission", "DependsOn": ["DepsLayer"], "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": ref("Fn"), "Principal": "s3.amazonaws.com"}}},
  "Outputs": {"Layer": {"Value": ref("DepsLayer")}, "Sub": {"Value": sub("${OtherLayer}")}}}
tpls["globals"] = {"Transform": T, "Globals": {
   "Function": {"Runtime": "nodejs20.x", "Handler": "index.handler", "Timeout": 10, "MemorySize": 512,
                "Environment": {"Variables": {"STAGE": "prod", "LOG": "info"}}, "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:base:1"],
                "Tags": {"app": "shop"}, "Architectures": ["arm64"], "CodeUri": "s3://nimbus-artifacts/global"},
   "Api": {"EndpointConfiguration": "REGIONAL", "Variables": {"g": "1"}},
   "HttpApi": {"StageVariables": {"sv": "1"}}},
  "Resources": {
   "A": {"Type": "AWS::Serverless::Function", "Properties": {"Environment": {"Variables": {"LOG": "debug", "X": "y"}},
         "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:extra:2"], "Tags": {"fn": "a"},
         "Events": {"Get": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get"}}, "H": {"Type": "HttpApi", "Properties": {"Path": "/a", "Method": "get"}}}}},
   "B": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": "python3.12", "Handler": "b.handler", "CodeUri": "s3://nimbus-artifacts/b", "Timeout": 3}},
   "C": {"Type": "AWS::Serverless::Function", "IgnoreGlobals": "*", "Properties": {"Runtime": "python3.12", "Handler": "c.handler", "CodeUri": "s3://nimbus-artifacts/c"}},
   "D": {"Type": "AWS::Serverless::Function", "IgnoreGlobals": ["Layers", "Tags"], "Properties": {}}}}
tpls["event_invoke"] = {"Transform": T, "Resources": {
  "Target": fn(),
  "Async": fn(EventInvokeConfig={"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 1, "DestinationConfig": {
      "OnSuccess": {"Type": "Lambda", "Destination": ga("Target", "Arn")},
      "OnFailure": {"Type": "EventBridge", "Destination": "arn:aws:events:us-east-1:123456789012:event-bus/default"}}}),
  "AliasAsync": fn(AutoPublishAlias="live", EventInvokeConfig={"MaximumRetryAttempts": 0, "DestinationConfig": {
      "OnFailure": {"Type": "SQS", "Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}})}}
tpls["dlq_policies"] = {"Transform": T, "Resources": {
  "Fn": fn(DeadLetterQueue={"Type": "SQS", "TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}, Tracing="Active",
           VpcConfig={"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
           Policies=["AmazonS3ReadOnlyAccess", "arn:aws:iam::aws:policy/AWSLambdaExecute",
                     {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
                     {"DynamoDBCrudPolicy": {"TableName": ref("Table")}}, {"SQSPollerPolicy": {"QueueName": "q"}},
                     "AWSLambdaBasicExecutionRole", "NotAKnownPolicy"]),
  "Sns": fn(DeadLetterQueue={"Type": "SNS", "TargetArn": "arn:aws:sns:us-east-1:123456789012:t"}, Tracing="Disabled",
            RolePath="/app/", PermissionsBoundary="arn:aws:iam::123456789012:policy/b", Policies="AWSXrayWriteOnlyAccess"),
  "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t"}}}}
tpls["inline_code"] = {"Transform": T, "Resources": {
  "Inline": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "def handler(e, c):\n    return 'ok'\n", "Handler": "index.handler",
     "Runtime": "python3.12", "Architectures": ["arm64"], "EphemeralStorage": {"Size": 1024}, "MemorySize": 1769, "Timeout": 30,
     "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}, "ReservedConcurrentExecutions": 5, "Description": "inline \u00e9",
     "FunctionName": "my-inline", "KmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k", "AutoPublishAlias": "live",
     "Environment": {"Variables": {"GREETING": "h\u00e9llo"}}}}}}
tpls["params_alias"] = {"Transform": T, "Parameters": {
    "AliasName": {"Type": "String", "Default": "stable"}, "CodeKey": {"Type": "String", "Default": "code-v2"},
    "Env": {"Type": "String", "Default": "prod"}, "Sha": {"Type": "String", "Default": "abcdef0123456789"}},
  "Resources": {
    "Fn": fn(AutoPublishAlias=ref("AliasName"), CodeUri={"Bucket": "nimbus-artifacts", "Key": ref("CodeKey")},
             Description=sub("fn for ${Env}"), Environment={"Variables": {"ENV": ref("Env")}}),
    "Sha": fn(AutoPublishAlias=ref("Env"), AutoPublishCodeSha256=ref("Sha"), Description="with sha")},
  "Outputs": {"Alias": {"Value": ref("Fn.Alias")}}}
tpls["conditions"] = {"Transform": T, "Parameters": {"Stage": {"Type": "String", "Default": "prod"}},
  "Conditions": {"IsProd": {"Fn::Equals": [ref("Stage"), "prod"]}, "IsDev": {"Fn::Equals": [ref("Stage"), "dev"]}},
  "Resources": {
    "ProdFn": dict(fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/p", "Method": "get"}}, "H": {"Type": "HttpApi", "Properties": {"Path": "/p", "Method": "get"}}}), Condition="IsProd"),
    "DevFn": dict(fn(AutoPublishAlias="live", Events={"A": {"Type": "Api", "Properties": {"Path": "/p", "Method": "post"}}, "B": {"Type": "Api", "Properties": {"Path": "/d", "Method": "get"}}}), Condition="IsDev"),
    "Always": fn(Events={"H": {"Type": "HttpApi", "Properties": {"Path": "/always", "Method": "get"}}})}}
tpls["cors"] = {"Transform": T, "Resources": {
  "CorsApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "Cors": {"AllowMethods": "'GET,POST'", "AllowHeaders": "'Content-Type'", "AllowOrigin": "'https://example.com'", "MaxAge": "'600'", "AllowCredentials": True}}},
  "StarApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "Cors": "'*'"}},
  "Http": {"Type": "AWS::Serverless::HttpApi", "Properties": {"CorsConfiguration": {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 600, "AllowCredentials": True}}},
  "Fn": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "RestApiId": ref("CorsApi")}},
                   "B": {"Type": "Api", "Properties": {"Path": "/b/", "Method": "any", "RestApiId": ref("StarApi")}},
                   "C": {"Type": "HttpApi", "Properties": {"Path": "/c", "Method": "get", "ApiId": ref("Http")}}})}}
tpls["authorizers"] = {"Transform": T, "Resources": {
  "AuthFn": fn(Handler="auth.handler"),
  "RestApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "api", "Auth": {"DefaultAuthorizer": "Tok",
     "Authorizers": {"Tok": {"FunctionArn": ga("AuthFn", "Arn"), "Identity": {"Header": "X-Token", "ReauthorizeEvery": 60, "ValidationExpression": "^Bearer"}},
                     "Req": {"FunctionArn": ga("AuthFn", "Arn"), "FunctionPayloadType": "REQUEST", "Identity": {"Headers": ["Auth"], "QueryStrings": ["q"]}}}}}},
  "HttpApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {"Auth": {"DefaultAuthorizer": "Jwt", "Authorizers": {
     "Jwt": {"JwtConfiguration": {"Issuer": "https://issuer", "Audience": ["a"]}, "IdentitySource": "$request.header.Authorization", "AuthorizationScopes": ["read"]},
     "Lam": {"FunctionArn": ga("AuthFn", "Arn"), "AuthorizerPayloadFormatVersion": "2.0", "EnableSimpleResponses": True, "EnableFunctionDefaultPermissions": True,
             "Identity": {"Headers": ["Authorization"], "ReauthorizeEvery": 0}}}}}},
  "Fn": fn(Events={"Default": {"Type": "Api", "Properties": {"Path": "/secure", "Method": "get", "RestApiId": ref("RestApi")}},
                   "Req": {"Type": "Api", "Properties": {"Path": "/req", "Method": "get", "RestApiId": ref("RestApi"), "Auth": {"Authorizer": "Req"}}},
                   "Open": {"Type": "Api", "Properties": {"Path": "/open", "Method": "get", "RestApiId": ref("RestApi"), "Auth": {"Authorizer": "NONE"}}},
                   "H1": {"Type": "HttpApi", "Properties": {"Path": "/h1", "Method": "get", "ApiId": ref("HttpApi")}},
                   "H2": {"Type": "HttpApi", "Properties": {"Path": "/h2", "Method": "get", "ApiId": ref("HttpApi"), "Auth": {"Authorizer": "Lam"}}},
                   "H3": {"Type": "HttpApi", "Properties": {"Path": "/h3", "Method": "get", "ApiId": ref("HttpApi"), "Auth": {"Authorizer": "Jwt", "AuthorizationScopes": ["write"]}}}})}}
tpls["http_explicit_body"] = {"Transform": T, "Resources": {
  "Http": {"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": "prod", "StageVariables": {"a": "b"}, "Tags": {"owner": "me"},
     "Description": "http api", "FailOnWarnings": True,
     "DefinitionBody": {"openapi": "3.0.1", "info": {"title": "mine", "version": "1"}, "paths": {"/manual": {"get": {
        "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST", "payloadFormatVersion": "2.0",
          "uri": sub("arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations")}}}}}}},
  "Fn": fn(Events={"Manual": {"Type": "HttpApi", "Properties": {"Path": "/manual", "Method": "get", "ApiId": ref("Http")}},
                   "New": {"Type": "HttpApi", "Properties": {"Path": "/new/{id}", "Method": "delete", "ApiId": ref("Http")}}})},
  "Outputs": {"Stage": {"Value": ref("Http.Stage")}}}
tpls["roles"] = {"Transform": T, "Parameters": {"UseRole": {"Type": "String", "Default": "no"}},
  "Conditions": {"HasRole": {"Fn::Equals": [ref("UseRole"), "yes"]}},
  "Resources": {
    "Given": fn(Role="arn:aws:iam::123456789012:role/given"),
    "GivenRef": fn(Role=ga("MyRole", "Arn")),
    "Maybe": fn(Role={"Fn::If": ["HasRole", "arn:aws:iam::123456789012:role/x", ref("AWS::NoValue")]}),
    "Tagged": fn(Tags={"a": "1", "b": "2"}, PropagateTags=True, AssumeRolePolicyDocument={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    "MyRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}}}}
tpls["paths_methods"] = {"Transform": T, "Resources": {
  "Proxy": fn(Events={"Any": {"Type": "Api", "Properties": {"Path": "/{proxy+}", "Method": "ANY"}},
                      "Root": {"Type": "Api", "Properties": {"Path": "/", "Method": "any"}},
                      "Trailing": {"Type": "Api", "Properties": {"Path": "/users/{userId}/", "Method": "PATCH"}},
                      "HttpAny": {"Type": "HttpApi", "Properties": {"Path": "/{proxy+}", "Method": "ANY"}}}),
  "Default": fn(Events={"D": {"Type": "HttpApi"}, "Also": {"Type": "HttpApi", "Properties": {"Path": "/also", "Method": "get"}}})}}
tpls["openapi_version"] = {"Transform": T, "Globals": {"Api": {"OpenApiVersion": "3.0.1"}}, "Resources": {
  "Api3": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "Cors": "'*'", "Auth": {"ApiKeyRequired": True, "AddApiKeyRequiredToCorsPreflight": False}}},
  "Fn": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "RestApiId": ref("Api3")}},
                   "I": {"Type": "Api", "Properties": {"Path": "/i", "Method": "get"}},
                   "Iam": {"Type": "Api", "Properties": {"Path": "/iam", "Method": "post", "RestApiId": ref("Api3"), "Auth": {"Authorizer": "AWS_IAM", "ApiKeyRequired": False}}}})}}
tpls["plain_cfn_mixed"] = {"Transform": T, "Resources": {
  "Bucket": {"Type": "AWS::S3::Bucket"},
  "Raw": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}, "Handler": "i.h", "Runtime": "python3.12", "Role": ga("Fn", "Arn")}},
  "Fn": dict(fn(Description=ref("AWS::StackName")), DependsOn=["Raw"], Metadata={"BuildMethod": "go1.x"}, DeletionPolicy="Retain")},
  "Outputs": {"Name": {"Value": ref("Fn"), "Export": {"Name": sub("${AWS::StackName}-fn")}}}}
tpls["edge_conditions"] = {"Transform": T, "Parameters": {"S": {"Type": "String", "Default": "a"}},
  "Conditions": {"C1": {"Fn::Equals": [ref("S"), "a"]}, "C2": {"Fn::Equals": [ref("S"), "b"]}, "C3": {"Fn::Equals": [ref("S"), "c"]}},
  "Resources": {
    "F1": dict(fn(Events={"G": {"Type": "Api", "Properties": {"Path": "/same", "Method": "get"}}, "H": {"Type": "HttpApi", "Properties": {"Path": "/h", "Method": "get"}}}), Condition="C1"),
    "F2": dict(fn(Events={"P": {"Type": "Api", "Properties": {"Path": "/same", "Method": "post"}}, "H": {"Type": "HttpApi", "Properties": {"Path": "/h", "Method": "post"}}}), Condition="C2"),
    "F3": dict(fn(FunctionUrlConfig={"AuthType": "NONE"}, AutoPublishAlias="live", EventInvokeConfig={"MaximumRetryAttempts": 2}), Condition="C3", DeletionPolicy="Retain", UpdateReplacePolicy="Retain")}}
tpls["edge_policies"] = {"Transform": T, "Parameters": {"PolicyArn": {"Type": "String", "Default": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}, "Flag": {"Type": "String", "Default": "y"}},
  "Conditions": {"On": {"Fn::Equals": [ref("Flag"), "y"]}},
  "Resources": {"F": fn(Policies=[ref("PolicyArn"), {"Fn::If": ["On", "AmazonDynamoDBReadOnlyAccess", ref("AWS::NoValue")]},
      {"Fn::If": ["On", {"S3ReadPolicy": {"BucketName": "b"}}, ref("AWS::NoValue")]},
      {"Fn::If": ["On", {"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}, ref("AWS::NoValue")]},
      {"LambdaInvokePolicy": {"FunctionName": ref("G")}}, {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"}}]),
    "G": fn(Policies={"Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]})}}
tpls["edge_definition_uri"] = {"Transform": T, "Resources": {
  "RestApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "v1.0", "DefinitionUri": "s3://bucket/swagger.yaml?versionId=3"}},
  "HttpApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": "dev-1", "DefinitionUri": {"Bucket": "b", "Key": "openapi.yaml"}}},
  "F": fn(Events={"R": {"Type": "Api", "Properties": {"Path": "/r", "Method": "get", "RestApiId": ref("RestApi")}},
                  "H": {"Type": "HttpApi", "Properties": {"Path": "/h", "Method": "get", "ApiId": ref("HttpApi")}}})}}
tpls["edge_stage_param"] = {"Transform": T, "Parameters": {"StageP": {"Type": "String", "Default": "beta"}},
  "Resources": {
    "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": ref("StageP"), "Auth": {"DefaultAuthorizer": "AWS_IAM", "InvokeRole": "CALLER_CREDENTIALS"}}},
    "F": fn(Events={"R": {"Type": "Api", "Properties": {"Path": "/r", "Method": "get", "RestApiId": ref("Api")}},
                    "S": {"Type": "Api", "Properties": {"Path": "/s", "Method": "get", "RestApiId": ref("Api"), "Auth": {"Authorizer": "AWS_IAM", "InvokeRole": "arn:aws:iam::1:role/r"}}}})},
  "Outputs": {"Stage": {"Value": ref("Api.Stage")}}}
tpls["edge_merge_definitions"] = {"Transform": T, "Resources": {
  "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "MergeDefinitions": True, "DefinitionBody": {
     "swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"summary": "mine", "responses": {"200": {"description": "ok"}}}}}}}},
  "F": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "RestApiId": ref("Api")}},
                  "B": {"Type": "Api", "Properties": {"Path": "/b", "Method": "post", "RestApiId": ref("Api")}}})}}
tpls["edge_alias_all_properties"] = {"Transform": T, "Globals": {"Function": {"Tracing": "Active", "AutoPublishAlias": "live"}},
  "Resources": {
    "L": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "s3://b/l", "PublishLambdaVersion": True}},
    "F": fn(AutoPublishAliasAllProperties=True, Layers=[ref("L")], Tracing="Disabled", SnapStart={"ApplyOn": "PublishedVersions"},
            Events={"D": {"Type": "HttpApi"}, "P": {"Type": "HttpApi", "Properties": {"Path": "/p", "Method": "put", "RouteSettings": {"ThrottlingBurstLimit": 5}}}}),
    "G": fn(SnapStart={"ApplyOn": "PublishedVersions"}, MemorySize=128)}}
tpls["edge_cognito_auth"] = {"Transform": T, "Resources": {
  "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "Cors": {"AllowOrigin": "'https://x'"},
     "Auth": {"DefaultAuthorizer": "Pool", "AddDefaultAuthorizerToCorsPreflight": False, "Authorizers": {
       "Pool": {"UserPoolArn": "arn:aws:cognito-idp:us-east-1:1:userpool/p", "AuthorizationScopes": ["email"], "Identity": {"Header": "Auth", "ValidationExpression": "x"}},
       "Lam": {"FunctionArn": "arn:aws:lambda:us-east-1:1:function:a", "FunctionInvokeRole": "arn:aws:iam::1:role/r", "DisableFunctionDefaultPermissions": True}}}}},
  "F": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "RestApiId": ref("Api")}},
                  "B": {"Type": "Api", "Properties": {"Path": "/b", "Method": "get", "RestApiId": ref("Api"), "Auth": {"Authorizer": "Pool", "AuthorizationScopes": ["profile"]}}},
                  "C": {"Type": "Api", "Properties": {"Path": "/c", "Method": "get", "RestApiId": ref("Api"), "Auth": {"Authorizer": "Lam"}}}})}}
tpls["edge_url_intrinsic"] = {"Transform": T, "Parameters": {"Auth": {"Type": "String", "Default": "NONE"}}, "Resources": {
  "F": fn(FunctionUrlConfig={"AuthType": ref("Auth")}, EventInvokeConfig={"DestinationConfig": {"OnSuccess": {"Type": "SNS"}, "OnFailure": {"Type": "SQS"}}}),
  "G": fn(Handler="g.h", InlineCode="x", CodeUri="s3://b/ignored", FunctionUrlConfig={"AuthType": "AWS_IAM", "Cors": {"AllowCredentials": True, "ExposeHeaders": ["x"]}})},
  "Outputs": {"Topic": {"Value": ref("F.DestinationTopic")}, "Queue": {"Value": ga("F.DestinationQueue", "Arn")}}}
_pt = json.load(open("../policy_templates.json"))["Templates"]
tpls["all_policy_templates"] = {"Transform": T, "Resources": {"KitchenSink": fn(Policies=[
    {name: {p: "v-" + p.lower() for p in sorted(t.get("Parameters", {}))}} for name, t in sorted(_pt.items())])}}
tpls["request_models"] = {"Transform": T, "Resources": {
  "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "Models": {
      "User": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
      "Order": {"type": "object"}}}},
  "Api3": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "OpenApiVersion": "3.0.1", "Models": {"User": {"type": "object"}},
     "GatewayResponses": {"DEFAULT_4XX": {"ResponseParameters": {"Headers": {"Access-Control-Allow-Origin": "'*'"}, "QueryStrings": {"q": "'x'"}}, "StatusCode": 404},
                          "UNAUTHORIZED": {"ResponseTemplates": {"application/json": "{}"}, "StatusCode": "401"}, "THROTTLED": {}}}},
  "F": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/users", "Method": "post", "RestApiId": ref("Api"), "RequestModel": {"Model": "User", "Required": True, "ValidateBody": True}}},
                  "B": {"Type": "Api", "Properties": {"Path": "/orders", "Method": "post", "RestApiId": ref("Api"), "RequestModel": {"Model": "Order", "ValidateParameters": True},
                        "RequestParameters": [{"method.request.header.X": {"Required": True}}]}},
                  "C": {"Type": "Api", "Properties": {"Path": "/v3", "Method": "put", "RestApiId": ref("Api3"), "RequestModel": {"Model": "User", "Required": False}}}})}}
tpls["usage_plans"] = {"Transform": T, "Conditions": {"A": {"Fn::Equals": ["a", "a"]}, "B": {"Fn::Equals": ["a", "b"]}}, "Resources": {
  "PerApi": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod", "Auth": {"ApiKeyRequired": True, "UsagePlan": {
      "CreateUsagePlan": "PER_API", "Description": "per api", "Quota": {"Limit": 100, "Period": "DAY"}, "Throttle": {"BurstLimit": 5, "RateLimit": 10}, "UsagePlanName": "plan"}}}},
  "Shared1": {"Type": "AWS::Serverless::Api", "Condition": "A", "DeletionPolicy": "Delete", "Properties": {"StageName": "one", "Auth": {"ApiKeyRequired": True, "UsagePlan": {"CreateUsagePlan": "SHARED"}}}},
  "Shared2": {"Type": "AWS::Serverless::Api", "Condition": "B", "DeletionPolicy": "Retain", "Properties": {"StageName": "two", "Auth": {"UsagePlan": {"CreateUsagePlan": "SHARED"}}}},
  "NoPlan": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "x", "Auth": {"UsagePlan": {"CreateUsagePlan": "NONE"}}}},
  "F": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "RestApiId": ref("PerApi")}},
                  "B": {"Type": "Api", "Properties": {"Path": "/b", "Method": "get", "RestApiId": ref("Shared1"), "Auth": {"ApiKeyRequired": False}}},
                  "C": {"Type": "Api", "Properties": {"Path": "/c", "Method": "get", "RestApiId": ref("Shared2")}},
                  "D": {"Type": "Api", "Properties": {"Path": "/d", "Method": "get", "RestApiId": ref("NoPlan")}}})},
  "Outputs": {"Key": {"Value": ref("PerApi.ApiKey")}, "Plan": {"Value": ref("Shared1.UsagePlan")}}}
tpls["propagate_tags"] = {"Transform": T, "Globals": {"Function": {"Tags": {"team": "g"}}}, "Resources": {
  "Tagged": fn(PropagateTags=True, Tags={"app": "x"}, Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get"}}, "H": {"Type": "HttpApi", "Properties": {"Path": "/h", "Method": "get"}}}),
  "Plain": fn(Events={"B": {"Type": "Api", "Properties": {"Path": "/b", "Method": "get"}}}),
  "Explicit": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "s", "PropagateTags": True, "Tags": {"k": "v"}}},
  "E": fn(Events={"E": {"Type": "Api", "Properties": {"Path": "/e", "Method": "get", "RestApiId": ref("Explicit")}}})}}
tpls["raw_apis"] = {"Transform": T, "Parameters": {"Region": {"Type": "String", "Default": "eu-west-1"}}, "Resources": {
  "Raw": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "raw"}},
  "RawV2": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "raw", "ProtocolType": "HTTP"}},
  "Layer": dict({"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "s3://b/l", "LayerName": sub("deps-${Region}")}}, Condition="Always", DeletionPolicy="Delete"),
  "F": fn(AutoPublishAlias=ref("AWS::Region"), Layers=[ref("Layer")],
          Events={"R": {"Type": "Api", "Properties": {"Path": "/r", "Method": "get", "RestApiId": ref("Raw")}},
                  "H": {"Type": "HttpApi", "Properties": {"Path": "/h", "Method": "get", "ApiId": ref("RawV2")}}}),
  "Uses": {"Type": "AWS::Lambda::Permission", "DependsOn": ["F", "Layer"], "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": ref("F.Alias"), "Principal": "s3.amazonaws.com"}}},
  "Conditions": {"Always": {"Fn::Equals": ["a", "a"]}},
  "Outputs": {"LayerArn": {"Value": ref("Layer"), "Condition": "Always"}, "Alias": {"Value": {"Fn::Join": [":", [ref("F.Alias"), ga("F.Version", "Version")]]}}}}
tpls["override_api_auth"] = {"Transform": T, "Resources": {
  "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod",
     "Auth": {"Authorizers": {"Tok": {"FunctionArn": "arn:aws:lambda:us-east-1:1:function:a"}}, "DefaultAuthorizer": "Tok"},
     "DefinitionBody": {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": {"x-amazon-apigateway-integration": {
        "type": "aws_proxy", "httpMethod": "POST", "uri": sub("arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${F.Arn}/invocations")}}}}}}},
  "F": fn(Events={"A": {"Type": "Api", "Properties": {"Path": "/a", "Method": "get", "RestApiId": ref("Api"), "Auth": {"Authorizer": "NONE", "OverrideApiAuth": True}}}})}}
invalid = {}
invalid["local_codeuri"] = {"Transform": T, "Resources": {"F": fn(CodeUri="./src")}}
invalid["duplicate_route"] = {"Transform": T, "Resources": {
  "A": fn(Events={"X": {"Type": "Api", "Properties": {"Path": "/x", "Method": "get"}}}),
  "B": fn(Events={"X": {"Type": "Api", "Properties": {"Path": "/x", "Method": "GET"}}})}}
invalid["unknown_property"] = {"Transform": T, "Resources": {"F": fn(Colour="blue")}}
invalid["bad_globals"] = {"Transform": T, "Globals": {"Function": {"Events": {}}}, "Resources": {"F": fn()}}
invalid["provisioned_without_alias"] = {"Transform": T, "Resources": {"F": fn(ProvisionedConcurrencyConfig={"ProvisionedConcurrentExecutions": 1})}}
invalid["alias_getatt"] = {"Transform": T, "Resources": {"F": fn(AutoPublishAlias=ga("X", "Y"))}}
invalid["missing_handler"] = {"Transform": T, "Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k", "Runtime": "python3.12"}}}}
invalid["url_bad_auth"] = {"Transform": T, "Resources": {"F": fn(FunctionUrlConfig={"AuthType": "OPEN"})}}
invalid["unknown_authorizer"] = {"Transform": T, "Resources": {
  "Api": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "p", "Auth": {"Authorizers": {"A": {"FunctionArn": "arn:x"}}}}},
  "F": fn(Events={"E": {"Type": "Api", "Properties": {"Path": "/", "Method": "get", "RestApiId": ref("Api"), "Auth": {"Authorizer": "B"}}}})}}
invalid["alias_sub"] = {"Transform": T, "Parameters": {"Env": {"Type": "String", "Default": "prod"}}, "Resources": {"F": fn(AutoPublishAlias=sub("${Env}"))}}
invalid["rest_api_id_unknown"] = {"Transform": T, "Resources": {"F": fn(Events={"X": {"Type": "Api", "Properties": {"Path": "/x", "Method": "get", "RestApiId": "abc123"}}})}}
invalid["ignore_globals_unknown"] = {"Transform": T, "Globals": {"Function": {"Timeout": 3}}, "Resources": {"F": dict(fn(), IgnoreGlobals=["Layers"])}}
invalid["api_event_unknown_property"] = {"Transform": T, "Resources": {"F": fn(Events={"X": {"Type": "Api", "Properties": {"Path": "/x", "Method": "get", "Colour": "red"}}})}}
invalid["http_event_unknown_property"] = {"Transform": T, "Resources": {"F": fn(Events={"X": {"Type": "HttpApi", "Properties": {"Path": "/x", "Method": "get", "RestApiId": "x"}}})}}
invalid["path_param_ref"] = {"Transform": T, "Parameters": {"P": {"Type": "String", "Default": "/x"}}, "Resources": {
  "F": fn(Events={"E": {"Type": "Api", "Properties": {"Path": ref("P"), "Method": "get"}}})}}
events = {}
events["pull"] = {"Transform": T, "Resources": {
  "Worker": fn(AutoPublishAlias="live", Events={
     "Queue": {"Type": "SQS", "Properties": {"Queue": ga("Q", "Arn"), "BatchSize": 5, "MaximumBatchingWindowInSeconds": 2, "FunctionResponseTypes": ["ReportBatchItemFailures"],
               "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"a": [1]})}]}, "ScalingConfig": {"MaximumConcurrency": 2}}},
     "Stream": {"Type": "Kinesis", "Properties": {"Stream": "arn:aws:kinesis:us-east-1:1:stream/s", "StartingPosition": "LATEST", "ParallelizationFactor": 2,
                "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": "arn:aws:sqs:us-east-1:1:dlq"}}}},
     "Table": {"Type": "DynamoDB", "Properties": {"Stream": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x", "StartingPosition": "TRIM_HORIZON", "Enabled": False,
               "DestinationConfig": {"OnFailure": {"Type": "SNS", "Destination": "arn:aws:sns:us-east-1:1:t"}}}}}),
  "Q": {"Type": "AWS::SQS::Queue"}}}
events["rules"] = {"Transform": T, "Resources": {
  "Cron": dict(fn(Events={
     "Nightly": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)", "Input": "{}", "Enabled": False, "Name": "nightly", "Description": "d",
                 "DeadLetterConfig": {"Type": "SQS"}, "RetryPolicy": {"MaximumRetryAttempts": 1}}},
     "Bus": {"Type": "EventBridgeRule", "Properties": {"Pattern": {"source": ["app"]}, "EventBusName": "custom", "InputPath": "$.detail", "State": "ENABLED",
             "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:1:d"}, "Target": {"Id": "MyTarget"}}},
     "Old": {"Type": "CloudWatchEvent", "Properties": {"Pattern": {"source": ["aws.ec2"]}, "RuleName": "old",
             "DeadLetterConfig": {"Type": "SQS", "QueueLogicalId": "OldDLQ"}, "InputTransformer": {"InputTemplate": "x"}}}}), Condition="C"),
  "AVeryLongFunctionNameThatMakesTheTargetIdLongerThanSixtyFour": fn(Events={"ScheduleEventWithLongName": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}})},
  "Conditions": {"C": {"Fn::Equals": ["a", "a"]}}}
events["sns"] = {"Transform": T, "Resources": {
  "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": True}},
  "Sub": fn(Events={
     "Direct": {"Type": "SNS", "Properties": {"Topic": ref("Topic"), "FilterPolicy": {"k": ["v"]}, "Region": "us-east-1"}},
     "ViaQueue": {"Type": "SNS", "Properties": {"Topic": ref("Topic"), "SqsSubscription": True}},
     "OwnQueue": {"Type": "SNS", "Properties": {"Topic": "arn:aws:sns:us-east-1:1:t", "SqsSubscription": {"QueueArn": "arn:aws:sqs:us-east-1:1:q", "QueueUrl": "https://q", "BatchSize": 3, "QueuePolicyLogicalId": "MyPolicy"}}}})}}
events["schedule_v2"] = {"Transform": T, "Resources": {
  "F": fn(AutoPublishAlias="live", Events={
     "Every": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)", "Input": "{}", "State": "ENABLED", "ScheduleExpressionTimezone": "UTC",
               "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}, "DeadLetterConfig": {"Type": "SQS"}, "RetryPolicy": {"MaximumRetryAttempts": 2},
               "PermissionsBoundary": "arn:aws:iam::1:policy/b", "GroupName": "g"}},
     "Named": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "cron(0 12 * * ? *)", "Name": "noon", "RoleArn": "arn:aws:iam::1:role/r", "DeadLetterConfig": {"Arn": "arn:aws:sqs:us-east-1:1:d"}}},
     "NoName": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 hour)", "OmitName": True}}})}}
events["logs"] = {"Transform": T, "Resources": {
  "F": fn(Events={"Logs": {"Type": "CloudWatchLogs", "Properties": {"LogGroupName": ref("G"), "FilterPattern": "ERROR"}}}),
  "A": fn(AutoPublishAlias="v1", Events={"L": {"Type": "CloudWatchLogs", "Properties": {"LogGroupName": "/app", "FilterPattern": ""}}}),
  "G": {"Type": "AWS::Logs::LogGroup"}}}
events["simple_table"] = {"Transform": T, "Globals": {"SimpleTable": {"SSESpecification": {"SSEEnabled": True}}}, "Resources": {
  "Plain": {"Type": "AWS::Serverless::SimpleTable"},
  "Keyed": {"Type": "AWS::Serverless::SimpleTable", "DeletionPolicy": "Retain", "Properties": {"PrimaryKey": {"Name": "pk", "Type": "Number"}, "TableName": "t",
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}, "Tags": {"a": "b"}, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}},
  "F": fn(Policies=[{"DynamoDBCrudPolicy": {"TableName": ref("Plain")}}], Events={"S": {"Type": "DynamoDB", "Properties": {"Stream": ga("Keyed", "StreamArn"), "StartingPosition": "LATEST"}}})}}
tpls["custom_domains"] = {"Transform": T, "Parameters": {"Cert": {"Type": "String", "Default": "arn:aws:acm:us-east-1:1:certificate/c"}},
  "Resources": {
  "Shop": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "prod", "Tags": {"team": "shop"}, "PropagateTags": True,
     "Domain": {"DomainName": "shop.example.com", "CertificateArn": ref("Cert"), "BasePath": ["/v1", "orders", "/a-b/"], "SecurityPolicy": "TLS_1_2"}}},
  "Plain": {"Type": "AWS::Serverless::Api", "Condition": "Always", "Properties": {"StageName": "dev",
     "Domain": {"DomainName": sub("plain.${AWS::Region}.example.com"), "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/p"}}},
  "Raw": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "raw",
     "Domain": {"DomainName": "raw.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/r", "BasePath": "/x.y", "NormalizeBasePath": False,
                "EndpointConfiguration": "EDGE"}}},
  "Web": {"Type": "AWS::Serverless::HttpApi", "Properties": {
     "Domain": {"DomainName": "web.example.com", "CertificateArn": ref("Cert"), "BasePath": ["/shop/v2", "legacy_api"]}}},
  "Bare": {"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": "live",
     "Domain": {"DomainName": "bare.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/b"}}},
  "F": fn(Events={"Get": {"Type": "Api", "Properties": {"Path": "/", "Method": "get", "RestApiId": ref("Shop")}},
                  "P": {"Type": "Api", "Properties": {"Path": "/", "Method": "get", "RestApiId": ref("Plain")}},
                  "R": {"Type": "Api", "Properties": {"Path": "/", "Method": "get", "RestApiId": ref("Raw")}},
                  "W": {"Type": "HttpApi", "Properties": {"ApiId": ref("Web")}},
                  "B": {"Type": "HttpApi", "Properties": {"ApiId": ref("Bare")}}})},
  "Conditions": {"Always": {"Fn::Equals": ["a", "a"]}}}
invalid["domain_no_certificate"] = {"Transform": T, "Resources": {
  "A": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "p", "Domain": {"DomainName": "a.example.com"}}}}}
invalid["http_domain_bad_basepath"] = {"Transform": T, "Resources": {
  "A": {"Type": "AWS::Serverless::HttpApi", "Properties": {"Domain": {"DomainName": "a.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c", "BasePath": ["a.b"]}}}}}
invalid["http_domain_edge"] = {"Transform": T, "Resources": {
  "A": {"Type": "AWS::Serverless::HttpApi", "Properties": {"Domain": {"DomainName": "a.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c", "EndpointConfiguration": "EDGE"}}}}}
for name, t in events.items():
    json.dump(t, open(f"eventsources/{name}.json", "w"), indent=1)
for name, t in tpls.items():
    json.dump(t, open(f"templates/{name}.json", "w"), indent=1, ensure_ascii=False)
for name, t in invalid.items():
    json.dump(t, open(f"invalid/{name}.json", "w"), indent=1)
print(len(tpls), len(invalid))
