package sfn

// The errors a state machine sees (the States Language's "Errors"), by
// the names AWS gives them.
const (
	ErrAll                     = "States.ALL"
	ErrTaskFailed              = "States.TaskFailed"
	ErrTimeout                 = "States.Timeout"
	ErrHeartbeatTimeout        = "States.HeartbeatTimeout"
	ErrRuntime                 = "States.Runtime"
	ErrPermissions             = "States.Permissions"
	ErrResultPathMatchFailure  = "States.ResultPathMatchFailure"
	ErrParameterPathFailure    = "States.ParameterPathFailure"
	ErrBranchFailed            = "States.BranchFailed"
	ErrNoChoiceMatched         = "States.NoChoiceMatched"
	ErrIntrinsicFailure        = "States.IntrinsicFailure"
	ErrExceedToleratedFailure  = "States.ExceedToleratedFailureThreshold"
	ErrItemReaderFailed        = "States.ItemReaderFailed"
	ErrResultWriterFailed      = "States.ResultWriterFailed"
	ErrDataLimitExceeded       = "States.DataLimitExceeded"
	ErrQueryEvaluationError    = "States.QueryEvaluationError"
	ErrLambdaUnknown           = "Lambda.Unknown"
	ErrLambdaServiceException  = "Lambda.ServiceException"
	ErrLambdaResourceNotFound  = "Lambda.ResourceNotFoundException"
	ErrLambdaTooManyRequests   = "Lambda.TooManyRequestsException"
	ErrLambdaSdkClientExcepion = "Lambda.SdkClientException"
)

// Failure is an error inside an execution: its name (what Retry and
// Catch match) and its cause.
type Failure struct {
	Name  string `json:"Error"`
	Cause string `json:"Cause"`
}

func (f *Failure) Error() string { return f.Name + ": " + f.Cause }

// matches reports whether an ErrorEquals name matches the failure.
// States.ALL matches every error but States.Runtime and
// States.DataLimitExceeded, which no Retry or Catch handles;
// States.TaskFailed matches a task's errors except its timeouts.
func (f *Failure) matches(name string) bool {
	if name == f.Name {
		return true
	}
	if name == ErrAll {
		return f.Name != ErrRuntime && f.Name != ErrDataLimitExceeded
	}
	if name == ErrTaskFailed {
		// States.TaskFailed matches any task failure except a timeout.
		return f.Name != ErrTimeout && f.Name != ErrHeartbeatTimeout && f.Name != ErrRuntime &&
			f.Name != ErrDataLimitExceeded && f.Name != ErrBranchFailed && f.Name != ErrNoChoiceMatched
	}
	return false
}
