// Package diff compares what the repo declares with what is live and yields
// a plan: one typed change per cluster. It is pure: no I/O, no clock, no AWS.
//
// An update is explained setting by setting (the live spec rides in the
// live template's Metadata) with the update policy of each field
// (policy.go, one table for the whole schema), and resource by resource
// with whether CloudFormation replaces it (template.go). Changes that need
// the fleet stopped or replace the head node or storage are held until the
// spec's policy.approve names them; drift found on the live stack is marked
// for healing or reporting per policy.onDrift (drift.go).
package diff
