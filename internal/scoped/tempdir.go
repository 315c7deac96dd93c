package scoped

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
)

// extraDSN is what a scope database's DSN adds to its own options: no extension installed
// or loaded (an attempt made a folder under the home directory), and a temporary directory
// of its own inside the source's (the warehouse's <file>.tmp, mode 0700), never the
// working directory an in-memory DuckDB spills to by default. DuckDB makes that directory
// when it first spills and removes it when the database closes.
func extraDSN(ctx context.Context, src *sql.DB) string {
	dsn := "&autoinstall_known_extensions=false&autoload_known_extensions=false"
	var parent string
	if err := src.QueryRowContext(ctx, `SELECT current_setting('temp_directory')`).Scan(&parent); err != nil || !filepath.IsAbs(parent) {
		// a source that is not a warehouse (tests): a private directory of the system's
		parent = filepath.Join(os.TempDir(), "tisheng-scopes")
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		parent = os.TempDir()
	}
	b := make([]byte, 8)
	rand.Read(b)
	return dsn + "&temp_directory=" + url.QueryEscape(filepath.Join(parent, "scope-"+hex.EncodeToString(b)))
}
