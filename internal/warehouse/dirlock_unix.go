//go:build unix

package warehouse

import (
	"os"
	"path/filepath"
	"syscall"
)

// tryLockDir takes an exclusive lock on dir's lock file without waiting: a backup holds
// its folder's while it writes; the kernel lets go of it when the process dies, kill -9
// included, which is how a sweep tells an abandoned folder from one being written.
func tryLockDir(dir string) (func(), error) {
	return lockFile(filepath.Join(dir, lockName), syscall.LOCK_EX|syscall.LOCK_NB)
}

// lockDir takes the lock, waiting for it.
func lockDir(dir string) (func(), error) {
	return lockFile(filepath.Join(dir, lockName), syscall.LOCK_EX)
}

func lockFile(path string, how int) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// made by root in a service's folder: the service must be able to take it too
	if uid, gid, ok := ownerOf(filepath.Dir(path), filepath.Dir(path)); ok {
		_ = giveTo(uid, gid, path)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, errDirLocked
		}
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
