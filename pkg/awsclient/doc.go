// Package awsclient builds the AWS SDK clients the daemon uses, from one
// Config: region, an optional endpoint (the moto emulator in tests),
// bounded adaptive retries and connect timeouts, and a recorder that counts
// every call, its retries and its errors by class.
//
// It holds no global state and registers no metrics on its own; the caller
// wires a Recorder and a prometheus.Registerer in. It knows nothing about
// stacks or clusters.
package awsclient
