package queries

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"tisheng/internal/warehouse"
)

// DuckDB's own errors, read back in Chinese with their detail kept.
func TestExplainInChinese(t *testing.T) {
	wh, err := warehouse.Open(context.Background(), filepath.Join(t.TempDir(), "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	wh.DB.Exec(`CREATE TABLE school_gate (school_code VARCHAR, shortfall INTEGER)`)
	for q, want := range map[string][]string{
		`SELECT shortfal FROM school_gate`:                    {"未知的列「shortfal」", "shortfall"},
		`SELECT * FROM school_gat`:                            {"未知的表「school_gat」", "school_gate"},
		`SELECT sum(shortfall), school_code FROM school_gate`: {"GROUP BY"},
		`SELECT 'x'::INTEGER`:                                 {"类型转换失败"},
		`SELECT lenght('x')`:                                  {"未知的函数「lenght」"},
		`SELEC 1`:                                             {"语法错误"},
	} {
		_, err := wh.DB.Exec(q)
		if err == nil {
			t.Fatalf("%s ran", q)
		}
		got := Explain(err)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", q, got, w)
			}
		}
		if strings.HasPrefix(got, "Binder") || strings.HasPrefix(got, "Catalog") {
			t.Errorf("%s: starts in English: %s", q, got)
		}
	}
}
