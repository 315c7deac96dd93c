package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMigrationsOnceAndTxAllOrNothing(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "w.duckdb")
	w, err := Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := loadMigrations()
	var n int
	w.DB.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n)
	if n != len(ms) || n == 0 {
		t.Fatalf("%d migrations recorded, %d embedded", n, len(ms))
	}
	boom := errors.New("boom")
	err = w.Tx(ctx, func(c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, `INSERT INTO meta VALUES ('a', 'b')`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	w.DB.QueryRow(`SELECT count(*) FROM meta`).Scan(&n)
	if n != 0 {
		t.Fatal("a failed transaction left a row")
	}
	if err := w.Tx(ctx, func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO meta VALUES ('a', 'b')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Reopening applies nothing twice and keeps the data.
	w, err = Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.DB.QueryRow(`SELECT count(*) FROM meta`).Scan(&n)
	if n != 1 {
		t.Fatalf("meta rows after reopen: %d", n)
	}
}

// DuckDB never installs or loads an extension (an attempt made a folder under the home
// directory), and spills beside the warehouse into a directory private to the server's
// user, whatever mode it had.
func TestNoExtensionsAndPrivateTemp(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	file := filepath.Join(t.TempDir(), "w.duckdb")
	if err := os.MkdirAll(file+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, locked := range []bool{false, true} {
		w, err := OpenWith(context.Background(), file, Options{Locked: locked})
		if err != nil {
			t.Fatal(err)
		}
		// types of extensions not built in fail without a try to fetch them (DuckDB 1.5.6
		// builds in ICU, whose localtimestamp runs, and GEOMETRY)
		for _, q := range []string{"SELECT '1.2.3.4'::INET", "SELECT NULL::BOX_2D"} {
			var v any
			if err := w.DB.QueryRow(q).Scan(&v); err == nil {
				t.Errorf("%s ran: %v", q, v)
			}
		}
		var dir string
		if err := w.DB.QueryRow(`SELECT current_setting('temp_directory')`).Scan(&dir); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(file + ".tmp")
		if dir != abs {
			t.Errorf("temp_directory %q, want %q", dir, abs)
		}
		w.Close()
	}
	if st, err := os.Stat(file + ".tmp"); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("temporary directory: %v %v", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(home, ".duckdb")); !os.IsNotExist(err) {
		t.Errorf("DuckDB wrote under the home directory: %v", err)
	}
}

// A new warehouse is written in the storage format the releases on DuckDB 1.1.2 read.
func TestNewWarehouseStorageVersion(t *testing.T) {
	file := filepath.Join(t.TempDir(), "w.duckdb")
	w, err := Open(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var v string
	if err := w.DB.QueryRow(`SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'w'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != "v1.0.0+" {
		t.Fatalf("storage version %s, want v1.0.0+", v)
	}
}
