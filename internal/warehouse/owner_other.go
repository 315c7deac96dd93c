//go:build !unix

package warehouse

func ownerOf(path, dir string) (uid, gid int, ok bool) { return 0, 0, false }

func giveTo(uid, gid int, files ...string) error { return nil }
