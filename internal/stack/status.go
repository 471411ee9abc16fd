package stack

// Stack and resource statuses (CloudFormation's StackStatus and
// ResourceStatus values).
const (
	StatusCreateInProgress   = "CREATE_IN_PROGRESS"
	StatusCreateComplete     = "CREATE_COMPLETE"
	StatusCreateFailed       = "CREATE_FAILED"
	StatusRollbackInProgress = "ROLLBACK_IN_PROGRESS"
	StatusRollbackComplete   = "ROLLBACK_COMPLETE"
	StatusRollbackFailed     = "ROLLBACK_FAILED"
	StatusDeleteInProgress   = "DELETE_IN_PROGRESS"
	StatusDeleteComplete     = "DELETE_COMPLETE"
	StatusDeleteFailed       = "DELETE_FAILED"
	StatusDeleteSkipped      = "DELETE_SKIPPED"
	// StatusCreateSkipped is Nimbus's own status for a resource left out
	// with --skip-unsupported: it was never created. CloudFormation has no
	// status for that; SDKs read an unknown status as its string.
	StatusCreateSkipped    = "CREATE_SKIPPED"
	StatusUpdateInProgress = "UPDATE_IN_PROGRESS"
	StatusUpdateComplete   = "UPDATE_COMPLETE"
	StatusUpdateFailed     = "UPDATE_FAILED"
	// StatusUpdateCleanup is UPDATE_COMPLETE_CLEANUP_IN_PROGRESS: the
	// update succeeded and the resources it replaced or removed are being
	// deleted.
	StatusUpdateCleanup            = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
	StatusUpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS"
	StatusUpdateRollbackCleanup    = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
	StatusUpdateRollbackComplete   = "UPDATE_ROLLBACK_COMPLETE"
	StatusUpdateRollbackFailed     = "UPDATE_ROLLBACK_FAILED"
	stackResourceType              = "AWS::CloudFormation::Stack"
	policyRetain                   = "Retain"
	policyRetainExceptOnCreate     = "RetainExceptOnCreate"
	reasonReplacement              = "Requested update requires the creation of a new physical resource; hence creating one."
	reasonUserInitiated            = "User Initiated"
	reasonInterrupted              = "The operation was interrupted by a restart of Nimbus."
	reasonRollbackRequested        = "Rollback requested by user."
)

// updatable reports whether a stack in status may be updated.
func updatable(status string) bool {
	switch status {
	case StatusCreateComplete, StatusUpdateComplete, StatusUpdateRollbackComplete:
		return true
	}
	return false
}
