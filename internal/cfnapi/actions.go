package cfnapi

// actionNames are every operation of botocore's cloudformation 2010-05-15
// model, for routing unsigned query requests by their Action (signed ones
// are routed by the credential scope's service).
var actionNames = map[string]bool{
	"ActivateOrganizationsAccess": true, "ActivateType": true, "BatchDescribeTypeConfigurations": true,
	"CancelUpdateStack": true, "ContinueUpdateRollback": true, "CreateChangeSet": true,
	"CreateGeneratedTemplate": true, "CreateStack": true, "CreateStackInstances": true,
	"CreateStackRefactor": true, "CreateStackSet": true, "DeactivateOrganizationsAccess": true,
	"DeactivateType": true, "DeleteChangeSet": true, "DeleteGeneratedTemplate": true, "DeleteStack": true,
	"DeleteStackInstances": true, "DeleteStackSet": true, "DeregisterType": true, "DescribeAccountLimits": true,
	"DescribeChangeSet": true, "DescribeChangeSetHooks": true, "DescribeEvents": true,
	"DescribeGeneratedTemplate": true, "DescribeOrganizationsAccess": true, "DescribePublisher": true,
	"DescribeResourceScan": true, "DescribeStackDriftDetectionStatus": true, "DescribeStackEvents": true,
	"DescribeStackInstance": true, "DescribeStackRefactor": true, "DescribeStackResource": true,
	"DescribeStackResourceDrifts": true, "DescribeStackResources": true, "DescribeStackSet": true,
	"DescribeStackSetOperation": true, "DescribeStacks": true, "DescribeType": true,
	"DescribeTypeRegistration": true, "DetectStackDrift": true, "DetectStackResourceDrift": true,
	"DetectStackSetDrift": true, "EstimateTemplateCost": true, "ExecuteChangeSet": true,
	"ExecuteStackRefactor": true, "GetGeneratedTemplate": true, "GetHookResult": true, "GetStackPolicy": true,
	"GetTemplate": true, "GetTemplateSummary": true, "ImportStacksToStackSet": true, "ListChangeSets": true,
	"ListExports": true, "ListGeneratedTemplates": true, "ListHookResults": true, "ListImports": true,
	"ListResourceScanRelatedResources": true, "ListResourceScanResources": true, "ListResourceScans": true,
	"ListStackInstanceResourceDrifts": true, "ListStackInstances": true, "ListStackRefactorActions": true,
	"ListStackRefactors": true, "ListStackResources": true, "ListStackSetAutoDeploymentTargets": true,
	"ListStackSetOperationResults": true, "ListStackSetOperations": true, "ListStackSets": true,
	"ListStacks": true, "ListTypeRegistrations": true, "ListTypeVersions": true, "ListTypes": true,
	"PublishType": true, "RecordHandlerProgress": true, "RegisterPublisher": true, "RegisterType": true,
	"RollbackStack": true, "SetStackPolicy": true, "SetTypeConfiguration": true, "SetTypeDefaultVersion": true,
	"SignalResource": true, "StartResourceScan": true, "StopStackSetOperation": true, "TestType": true,
	"UpdateGeneratedTemplate": true, "UpdateStack": true, "UpdateStackInstances": true, "UpdateStackSet": true,
	"UpdateTerminationProtection": true, "ValidateTemplate": true,
}
