// Package moto starts the moto AWS emulator (moto_server) for integration
// tests, so they run the real aws-sdk-go-v2 clients against a real server.
//
// The server binary is taken from $DRIFTLESS_MOTO_SERVER, else from
// .venv/bin/moto_server at the module root, which scripts/moto.sh install
// creates. When neither exists a test is skipped with a message saying how
// to install it, unless $CI is set: CI must never skip these tests silently.
//
// It is test infrastructure only; nothing outside _test.go files imports it.
package moto
