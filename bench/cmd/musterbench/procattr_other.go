//go:build !linux

package main

import "syscall"

// procAttr: only Linux has a parent-death signal; elsewhere a crashed bench
// may leave its servers running.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
