package warehouse

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Private makes the warehouse file and what sits beside it private to the user that runs
// tisheng: the file and its write-ahead log 0600, the spill and upload directories 0700.
// They hold every teacher's name and hours; DuckDB created them 0644 under the usual umask
// 022, readable by every account on the machine. serve also sets umask 077, so
// that what DuckDB and the server create afterwards (a new WAL, spill and upload files) is
// private from the start; this repairs what an earlier version or another command left.
// The key file is not touched: ingest.LoadKey refuses one that others can read, so that
// its exposure is noticed rather than quietly repaired.
func Private(file string) error {
	for _, p := range []struct {
		path string
		mode fs.FileMode
	}{{file, 0o600}, {file + ".wal", 0o600}, {file + ".tmp", 0o700}, {file + ".uploads", 0o700}} {
		st, err := os.Stat(p.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("warehouse: %w", err)
		}
		if st.Mode().Perm() == p.mode {
			continue
		}
		if err := os.Chmod(p.path, p.mode); err != nil {
			return fmt.Errorf("warehouse: make %s private: %w", p.path, err)
		}
	}
	return nil
}
