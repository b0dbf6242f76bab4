// Package apply carries out a plan against CloudFormation: it creates,
// updates and deletes stacks, waits for them to settle and records what was
// applied in the stack's tags.
//
// It never decides what should exist; that is the plan's job. The typed
// errors it returns tell the caller whether to give up on a cluster
// (*StackFailedError: CloudFormation rolled back) or look again next cycle
// (*TimeoutError: the stack is still busy).
package apply
