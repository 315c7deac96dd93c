package main

import "syscall"

// infinity is RLIM_INFINITY as the Rlimit fields hold it.
const infinity = ^uint64(0)

// setMaxMemory lowers the process's data-segment limit (heap and private mappings, which is
// where DuckDB and Go allocate) to n bytes; it never raises a lower limit already set.
func setMaxMemory(n int64) error {
	if n <= 0 {
		return nil
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_DATA, &lim); err != nil {
		return err
	}
	if lim.Max != infinity && uint64(n) > lim.Max {
		n = int64(lim.Max)
	}
	if lim.Cur != infinity && uint64(n) > lim.Cur {
		return nil
	}
	lim.Cur = uint64(n)
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &lim)
}
