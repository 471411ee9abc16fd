package ssm

import (
	"strings"
	"sync"
)

// otherOperations are the Systems Manager operations outside Parameter
// Store (botocore's ssm model), each refused naming its feature.
const otherOperations = `AssociateOpsItemRelatedItem CancelCommand CancelMaintenanceWindowExecution CreateActivation
CreateAssociation CreateAssociationBatch CreateDocument CreateMaintenanceWindow CreateOpsItem
CreateOpsMetadata CreatePatchBaseline CreateResourceDataSync DeleteActivation DeleteAssociation
DeleteDocument DeleteInventory DeleteMaintenanceWindow DeleteOpsItem DeleteOpsMetadata
DeletePatchBaseline DeleteResourceDataSync DeleteResourcePolicy DeregisterManagedInstance
DeregisterPatchBaselineForPatchGroup DeregisterTargetFromMaintenanceWindow
DeregisterTaskFromMaintenanceWindow DescribeActivations DescribeAssociation
DescribeAssociationExecutionTargets DescribeAssociationExecutions DescribeAutomationExecutions
DescribeAutomationStepExecutions DescribeAvailablePatches DescribeDocument
DescribeDocumentPermission DescribeEffectiveInstanceAssociations
DescribeEffectivePatchesForPatchBaseline DescribeInstanceAssociationsStatus
DescribeInstanceInformation DescribeInstancePatchStates DescribeInstancePatchStatesForPatchGroup
DescribeInstancePatches DescribeInstanceProperties DescribeInventoryDeletions
DescribeMaintenanceWindowExecutionTaskInvocations DescribeMaintenanceWindowExecutionTasks
DescribeMaintenanceWindowExecutions DescribeMaintenanceWindowSchedule
DescribeMaintenanceWindowTargets DescribeMaintenanceWindowTasks DescribeMaintenanceWindows
DescribeMaintenanceWindowsForTarget DescribeOpsItems DescribePatchBaselines DescribePatchGroupState
DescribePatchGroups DescribePatchProperties DescribeSessions DisassociateOpsItemRelatedItem
GetAccessToken GetAutomationExecution GetCalendarState GetCommandInvocation GetConnectionStatus
GetDefaultPatchBaseline GetDeployablePatchSnapshotForInstance GetDocument GetExecutionPreview
GetInventory GetInventorySchema GetMaintenanceWindow GetMaintenanceWindowExecution
GetMaintenanceWindowExecutionTask GetMaintenanceWindowExecutionTaskInvocation
GetMaintenanceWindowTask GetOpsItem GetOpsMetadata GetOpsSummary GetPatchBaseline
GetPatchBaselineForPatchGroup GetResourcePolicies GetServiceSetting ListAssociationVersions
ListAssociations ListCommandInvocations ListCommands ListComplianceItems ListComplianceSummaries
ListDocumentMetadataHistory ListDocumentVersions ListDocuments ListInventoryEntries ListNodes
ListNodesSummary ListOpsItemEvents ListOpsItemRelatedItems ListOpsMetadata
ListResourceComplianceSummaries ListResourceDataSync ModifyDocumentPermission PutComplianceItems
PutInventory PutResourcePolicy RegisterDefaultPatchBaseline RegisterPatchBaselineForPatchGroup
RegisterTargetWithMaintenanceWindow RegisterTaskWithMaintenanceWindow ResetServiceSetting
ResumeSession SendAutomationSignal SendCommand StartAccessRequest StartAssociationsOnce
StartAutomationExecution StartChangeRequestExecution StartExecutionPreview StartSession
StopAutomationExecution TerminateSession UpdateAssociation UpdateAssociationStatus UpdateDocument
UpdateDocumentDefaultVersion UpdateDocumentMetadata UpdateMaintenanceWindow
UpdateMaintenanceWindowTarget UpdateMaintenanceWindowTask UpdateManagedInstanceRole UpdateOpsItem
UpdateOpsMetadata UpdatePatchBaseline UpdateResourceDataSync UpdateServiceSetting`

// features name the Systems Manager capability of an operation, by a
// part of its name, first match wins.
var features = [][2]string{
	{"OpsItem", "OpsCenter OpsItems"}, {"OpsMetadata", "OpsCenter metadata"}, {"OpsSummary", "OpsCenter summaries"},
	{"MaintenanceWindow", "maintenance windows"}, {"Patch", "Patch Manager baselines and patches"},
	{"Association", "State Manager associations"}, {"Automation", "Automation runbooks and executions"},
	{"ChangeRequest", "Change Manager requests"}, {"ExecutionPreview", "Automation execution previews"},
	{"Command", "Run Command commands"}, {"Document", "SSM documents"}, {"Session", "Session Manager sessions"},
	{"Inventory", "inventory"}, {"Compliance", "compliance items"}, {"ResourceDataSync", "resource data syncs"},
	{"Activation", "hybrid activations"}, {"ManagedInstance", "managed nodes"}, {"Instance", "managed nodes"},
	{"Node", "managed nodes"}, {"ServiceSetting", "service settings"}, {"ResourcePolic", "resource policies"},
	{"Calendar", "Change Calendar"}, {"ConnectionStatus", "Session Manager sessions"}, {"AccessToken", "just-in-time node access"},
	{"AccessRequest", "just-in-time node access"},
}

// refusedOps maps every operation outside Parameter Store to its feature.
var refusedOps = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, op := range strings.Fields(otherOperations) {
		what := "Systems Manager capabilities other than Parameter Store"
		for _, f := range features {
			if strings.Contains(op, f[0]) {
				what = "Systems Manager " + f[1] + " (Nimbus serves Parameter Store only)"
				break
			}
		}
		m[op] = what
	}
	return m
})
