// Package httpevent turns HTTP requests into the Lambda events API Gateway
// and function URLs send, and the functions' answers back into HTTP
// responses, byte for byte as AWS does: payload format 2.0 (HTTP APIs and
// function URLs), payload format 1.0 (REST APIs, and HTTP APIs that ask for
// it), the base64 rules for binary bodies, and API Gateway's answers to
// malformed proxy responses.
//
// The wire structs here marshal to exactly the JSON AWS sends (which
// fields are null, which are left out); they unmarshal into the types of
// github.com/aws/aws-lambda-go/events, which the golden tests check.
//
// Who may import it: the HTTP front doors (internal/apigw, internal/funcurl)
// and the daemon (wiring). It imports nothing of Nimbus.
package httpevent

// V2Request is a payload format 2.0 event (HTTP APIs and function URLs).
type V2Request struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	StageVariables        map[string]string `json:"stageVariables,omitempty"`
	RequestContext        V2Context         `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

// V2Context is the requestContext of a 2.0 event.
type V2Context struct {
	AccountID    string        `json:"accountId"`
	APIID        string        `json:"apiId"`
	Authorizer   *V2Authorizer `json:"authorizer,omitempty"`
	DomainName   string        `json:"domainName"`
	DomainPrefix string        `json:"domainPrefix"`
	HTTP         V2HTTP        `json:"http"`
	RequestID    string        `json:"requestId"`
	RouteKey     string        `json:"routeKey"`
	Stage        string        `json:"stage"`
	Time         string        `json:"time"`
	TimeEpoch    int64         `json:"timeEpoch"`
}

// V2HTTP is requestContext.http.
type V2HTTP struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// V2Authorizer is requestContext.authorizer: what a Lambda authorizer
// returned as context, or the caller of an AWS_IAM-authorized request.
type V2Authorizer struct {
	JWT    *JWTClaims     `json:"jwt,omitempty"`
	Lambda map[string]any `json:"lambda,omitempty"`
	IAM    *IAMIdentity   `json:"iam,omitempty"`
}

// JWTClaims is what a JWT authorizer found in a token: its claims as
// strings and its scopes (null when the token has none).
type JWTClaims struct {
	Claims map[string]string `json:"claims"`
	Scopes []string          `json:"scopes"`
}

// IAMIdentity is the SigV4-authenticated caller (AWS_IAM authorization).
type IAMIdentity struct {
	AccessKey       string  `json:"accessKey"`
	AccountID       string  `json:"accountId"`
	CallerID        string  `json:"callerId"`
	CognitoIdentity *string `json:"cognitoIdentity"`
	PrincipalOrgID  *string `json:"principalOrgId"`
	UserARN         string  `json:"userArn"`
	UserID          string  `json:"userId"`
}

// V1Request is a payload format 1.0 event (REST APIs; HTTP APIs with
// PayloadFormatVersion 1.0, which add "version": "1.0").
type V1Request struct {
	Version                         string              `json:"version,omitempty"`
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	RequestContext                  V1Context           `json:"requestContext"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

// V1Context is the requestContext of a 1.0 event.
type V1Context struct {
	AccountID         string         `json:"accountId"`
	APIID             string         `json:"apiId"`
	Authorizer        map[string]any `json:"authorizer,omitempty"`
	DomainName        string         `json:"domainName"`
	DomainPrefix      string         `json:"domainPrefix"`
	ExtendedRequestID string         `json:"extendedRequestId"`
	HTTPMethod        string         `json:"httpMethod"`
	Identity          V1Identity     `json:"identity"`
	Path              string         `json:"path"`
	Protocol          string         `json:"protocol"`
	RequestID         string         `json:"requestId"`
	RequestTime       string         `json:"requestTime"`
	RequestTimeEpoch  int64          `json:"requestTimeEpoch"`
	ResourceID        *string        `json:"resourceId"`
	ResourcePath      string         `json:"resourcePath"`
	Stage             string         `json:"stage"`
}

// V1Identity is requestContext.identity; the members API Gateway leaves
// null for an anonymous caller are pointers.
type V1Identity struct {
	AccessKey                     *string `json:"accessKey"`
	AccountID                     *string `json:"accountId"`
	Caller                        *string `json:"caller"`
	CognitoAuthenticationProvider *string `json:"cognitoAuthenticationProvider"`
	CognitoAuthenticationType     *string `json:"cognitoAuthenticationType"`
	CognitoIdentityID             *string `json:"cognitoIdentityId"`
	CognitoIdentityPoolID         *string `json:"cognitoIdentityPoolId"`
	PrincipalOrgID                *string `json:"principalOrgId"`
	SourceIP                      string  `json:"sourceIp"`
	User                          *string `json:"user"`
	UserAgent                     string  `json:"userAgent"`
	UserARN                       *string `json:"userArn"`
}
