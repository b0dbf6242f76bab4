// Package gitserver starts real git servers and repositories for tests:
// bare repositories served over smart HTTP by `git http-backend`, and
// scratch work trees that commit and push to them with the git CLI.
//
// It is test support only; production code must not import it.
package gitserver
