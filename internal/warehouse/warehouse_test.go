package warehouse

import (
	"context"
	"database/sql"
	"errors"
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
