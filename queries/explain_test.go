package queries

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"

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
		`SELECT 100000::TINYINT`:                              {"类型转换失败"},
		`SELECT abs('x', 1)`:                                  {"函数的参数类型"},
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

// The kind of error is the driver's error type, not English words in the message: a message
// worded as a future release might word it still gets its kind's sentence, and text that
// only looks like DuckDB's is not taken for it.
func TestExplainByErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&duckdb.Error{Type: duckdb.ErrorTypeParser, Msg: "Parser Error: unexpected token"}, "查询有语法错误"},
		{&duckdb.Error{Type: duckdb.ErrorTypeBinder, Msg: "Binder Error: column q is nowhere"}, "查询引用有误"},
		{&duckdb.Error{Type: duckdb.ErrorTypeCatalog, Msg: "Catalog Error: no such relation"}, "查询用到了不存在的表或函数"},
		{&duckdb.Error{Type: duckdb.ErrorTypeConversion, Msg: "could not cast"}, "类型转换失败"},
		{fmt.Errorf("wrapped: %w", &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory, Msg: "failed to allocate"}), "查询所需内存超出上限"},
		{errors.New("Parser Error: only looks like DuckDB's"), "查询出错"},
		{errors.New("Out of Memory Error: only looks like DuckDB's"), "查询出错"},
	} {
		if got := Explain(c.err); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v: %q, want it to start with %q", c.err, got, c.want)
		}
	}
	if IsOutOfMemory(errors.New("Out of Memory Error: words only")) {
		t.Error("an error that only says Out of Memory Error was taken for DuckDB's")
	}
	if !IsOutOfMemory(fmt.Errorf("x: %w", &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory})) {
		t.Error("a wrapped out-of-memory error was not recognised")
	}
}
