package models

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/schema.md")

// TestSchemaDoc keeps docs/schema.md, the analyst-facing contract, complete and current.
func TestSchemaDoc(t *testing.T) {
	c := newCity(t)
	c.build()
	c.refresh("national")
	doc, missing, err := builtin(t).SchemaDoc(c.ctx, c.wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Fatalf("undocumented (add them to models/columns.csv):\n%s", strings.Join(missing, "\n"))
	}
	path := filepath.Join("..", "docs", "schema.md")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(path)
	if err != nil || string(have) != doc {
		t.Fatalf("docs/schema.md is stale: go test -tags duckdb_arrow ./models -run SchemaDoc -update")
	}
}
