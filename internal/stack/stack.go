// Package stack is the deployment engine: CloudFormation stacks of plain
// resources, created, updated and deleted in dependency order through
// Providers, with their state in the backbone, rollback on failure,
// events, outputs and exports. SAM templates are expanded by package sam
// before the engine sees them.
//
// cfnapi (the CloudFormation API) and the daemon import it; providers of
// resource types live in package resource.
package stack
