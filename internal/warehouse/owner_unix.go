//go:build unix

package warehouse

import (
	"os"
	"syscall"
)

// ownerOf is the owner of the file at path, or of its folder when there is none.
func ownerOf(path, dir string) (uid, gid int, ok bool) {
	for _, p := range []string{path, dir} {
		if st, err := os.Stat(p); err == nil {
			if s, isUnix := st.Sys().(*syscall.Stat_t); isUnix {
				return int(s.Uid), int(s.Gid), true
			}
		}
	}
	return 0, 0, false
}

// giveTo makes files owned by uid:gid when root runs the restore for a service user:
// a root-owned warehouse the service cannot open would fail its next start.
func giveTo(uid, gid int, files ...string) error {
	if os.Geteuid() != 0 || uid == 0 {
		return nil
	}
	for _, f := range files {
		if err := os.Lchown(f, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
