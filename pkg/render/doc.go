// Package render turns a validated cluster spec into a CloudFormation
// template. The same spec always renders to the same bytes, so the hash of
// the template says whether a live stack is what the repo declares.
//
// It never calls AWS.
package render
