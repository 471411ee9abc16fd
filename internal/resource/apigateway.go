package resource

import "github.com/nimbus-serverless/nimbus/internal/stack"

func addAPIGateway(c *clients, ps map[string]stack.Provider) {}
