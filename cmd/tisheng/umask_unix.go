//go:build unix

package main

import "syscall"

// privateFiles makes every file the process creates from now on private to its user
// (umask 077): the warehouse's write-ahead log, DuckDB's spill files and uploads hold
// personal data, and were created 0644 under the usual umask 022.
func privateFiles() { syscall.Umask(0o077) }
