package prometheus

import "syscall"

// sysProcAttr kills the server with the test binary, so a test killed by
// its timeout leaves no Prometheus behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
