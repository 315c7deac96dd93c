//go:build !unix

package main

// privateFiles has no umask to set here; warehouse.Private still repairs the modes at open.
func privateFiles() {}
