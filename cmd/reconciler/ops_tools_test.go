package main

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// requireTool returns the path of a program the test runs, skipping the
// test when it is missing, or failing it under CI, where
// scripts/ci-deps.sh installs it from the named Debian package.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing (Debian package %s; scripts/ci-deps.sh installs it): %v", name, pkg, err)
	}
	t.Skipf("%s is missing: install the Debian package %s (scripts/ci-deps.sh does)", name, pkg)
	return ""
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
