package resource

import "github.com/nimbus-serverless/nimbus/internal/stack"

func addAPIGatewayV2(c *clients, ps map[string]stack.Provider) {}
