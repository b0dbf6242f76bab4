package moto

import "syscall"

// sysProcAttr kills the server with the test binary, so a test killed by
// its timeout leaves no moto_server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
