//go:build !linux

package moto

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
