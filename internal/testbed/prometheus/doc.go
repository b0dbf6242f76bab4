// Package prometheus starts a real Prometheus server (Debian's prometheus
// package) on 127.0.0.1 for tests, scraping the targets a test names every
// second, and queries it over its HTTP API. It also finds promtool, which
// the same package ships, for rule and exposition checks.
//
// When the programs are missing a test is skipped with a message naming
// the package, unless $CI is set: CI installs them (scripts/ci-deps.sh)
// and must never skip these tests silently.
//
// It is test support only; production code must not import it.
package prometheus
