package diff

import "strings"

// Kind groups CloudFormation stack statuses by what the daemon may do.
type Kind int

// The kinds of stack status.
const (
	// Stable: the last operation finished; a new one may be issued.
	Stable Kind = iota
	// InProgress: an operation is running; nothing may be issued.
	InProgress
	// Failed: the stack is stuck and needs a decision.
	Failed
	// Gone: the stack no longer exists.
	Gone
)

// StatusKind classifies a CloudFormation stack status.
func StatusKind(status string) Kind {
	switch status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE":
		return Stable
	case "DELETE_COMPLETE":
		return Gone
	case "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED",
		"UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED", "IMPORT_ROLLBACK_FAILED":
		return Failed
	}
	if strings.HasSuffix(status, "_IN_PROGRESS") {
		return InProgress
	}
	return Failed
}
