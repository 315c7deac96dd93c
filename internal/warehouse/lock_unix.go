//go:build unix

package warehouse

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockHolder asks the kernel which other process holds a lock on file that conflicts with
// a write lock (DuckDB locks the whole file: for writing when it opens it read-write, for
// reading when read-only).
func lockHolder(file string) (int, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil || lk.Type == syscall.F_UNLCK || lk.Pid <= 0 {
		return 0, false
	}
	return int(lk.Pid), true
}

// programOf names a process by its command (Linux's /proc), or "" where that is not known.
func programOf(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
