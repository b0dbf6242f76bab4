// Package apply carries out a plan against CloudFormation: it creates,
// updates and deletes stacks, waits for them to settle and records what was
// applied in the stack's tags.
//
// It never decides what should exist; that is the plan's job.
package apply
