//go:build !linux

package main

// setMaxMemory is not available here: the ad-hoc memory ceiling (which samples the
// resident set on Linux only) and DuckDB's memory_limit are all that apply.
func setMaxMemory(int64) error { return nil }
