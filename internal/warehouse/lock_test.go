package warehouse

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// A lock conflict is DuckDB's IO error on a file another process holds, asked of the kernel;
// DuckDB's English words alone, or an IO error on a file nobody holds, are not one. (That
// another process's lock is named, with its PID, is TestCommandOnAServedWarehouse.)
func TestLockErrorNotFromWords(t *testing.T) {
	file := filepath.Join(t.TempDir(), "w.duckdb")
	wh, err := Open(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	for _, err := range []error{
		errors.New(`IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held in /usr/bin/tisheng (PID 42)`),
		&duckdb.Error{Type: duckdb.ErrorTypeIO, Msg: `IO Error: Could not set lock on file: Conflicting lock is held in x (PID 42)`},
		&duckdb.Error{Type: duckdb.ErrorTypeCatalog, Msg: "Catalog Error: Conflicting lock is held in x (PID 42)"},
	} {
		var le *LockedError
		if got := lockError(file, err); errors.As(got, &le) || got != err {
			t.Errorf("%v became %v", err, got)
		}
	}
}
