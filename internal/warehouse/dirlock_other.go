//go:build !unix

package warehouse

import (
	"os"
	"path/filepath"
)

// tryLockDir cannot lock here: a folder with a lock file is taken as being written, and
// abandoned folders are left for the operator to remove.
func tryLockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, errDirLocked
	}
	f.Close()
	return func() { os.Remove(filepath.Join(dir, lockName)) }, nil
}

func lockDir(dir string) (func(), error) { return tryLockDir(dir) }
