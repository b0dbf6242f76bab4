package apply

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// StackFailedError says CloudFormation ended an operation in a failed or
// rolled-back state, or that a stack is in such a state. Retrying the same
// change will fail the same way until someone fixes the spec or the
// account, so the caller should back off and report it.
type StackFailedError struct {
	// Stack is the stack's name.
	Stack string
	// Status is the final status, e.g. ROLLBACK_COMPLETE.
	Status string
	// Reason is the reason of the first resource that failed, with its
	// logical id, or the stack's own status reason when no resource event
	// names one.
	Reason string
	// LeftBehind lists the resources a failed delete could not remove:
	// logical id, type, physical id and why.
	LeftBehind []string
}

func (e *StackFailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s: %s", e.Stack, e.Status)
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if len(e.LeftBehind) > 0 {
		fmt.Fprintf(&b, "; left behind: %s", strings.Join(e.LeftBehind, "; "))
	}
	return b.String()
}

// TimeoutError says a stack was still busy when the wait ran out. The
// operation goes on in CloudFormation; the next cycle sees the stack busy
// and waits, so this is not a failure of the change.
type TimeoutError struct {
	Stack  string
	Status string
	After  time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("stack %s: still %s after %s; CloudFormation carries on", e.Stack, e.Status, e.After)
}

// MaxTemplateBody is the largest template CloudFormation accepts inline;
// anything larger must be uploaded to S3 and passed as TemplateURL.
const MaxTemplateBody = 51200

// ErrTemplateTooLarge says a template exceeds MaxTemplateBody. Templates
// are not uploaded to S3 yet, so such a cluster cannot be applied.
var ErrTemplateTooLarge = errors.New("template too large to pass inline")

// ErrProtected refuses to delete a stack with termination protection on.
// The plan should never ask; AWS would refuse too, but moto would not.
var ErrProtected = errors.New("stack has termination protection")

// ErrDenied marks a call AWS refused for the daemon's identity: expired or
// invalid credentials, or a permission its IAM policy lacks. Retrying soon
// will not help; a person must renew the credentials or fix the policy.
var ErrDenied = errors.New("AWS refused the daemon's credentials or permissions")
