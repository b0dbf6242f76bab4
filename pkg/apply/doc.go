// Package apply carries out a plan against CloudFormation: it creates,
// updates, deletes and recreates stacks, continues failed rollbacks, waits
// for every operation to settle while streaming its stack events, and
// records what was applied in the stack's tags.
//
// It never decides what should exist; that is the plan's job. The typed
// errors it returns tell the caller what to do next: *StackFailedError
// (CloudFormation failed or rolled back; back off and report the resource
// that failed), *TimeoutError (still busy; look again next cycle),
// ErrDenied (credentials or permissions; stop until a person acts).
package apply
