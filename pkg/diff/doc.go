// Package diff compares what the repo declares with what is live and yields
// a plan: one typed change per cluster. It is pure: no I/O, no clock, no AWS.
package diff
