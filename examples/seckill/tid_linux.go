package main

import "syscall"

// threadID is the OS thread running the calling goroutine at this moment:
// the nearest thing in Go to the seed's Thread.CurrentThread.ManagedThreadId.
func threadID() int { return syscall.Gettid() }
