package ingest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// A database failure during a load is told in Chinese by its error type, with DuckDB's
// words masked after it; an error that is not DuckDB's is not taken for one.
func TestDBFailureByType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory, Msg: "Out of Memory Error: failed to allocate"}, "仓库内存不足"},
		{fmt.Errorf("insert raw_hours: %w", &duckdb.Error{Type: duckdb.ErrorTypeIO, Msg: "IO Error: No space left on device"}), "写入仓库文件失败"},
		{&duckdb.Error{Type: duckdb.ErrorTypeInterrupt, Msg: "INTERRUPT Error: Interrupted!"}, "导入被中断"},
		{&duckdb.Error{Type: duckdb.ErrorTypeTransaction, Msg: "TransactionContext Error: conflict"}, "仓库正被另一项写入修改"},
		{&duckdb.Error{Type: duckdb.ErrorTypeConstraint, Msg: "Constraint Error: NOT NULL constraint failed: raw_hours.name"}, "数据不符合仓库的约束"},
		{&duckdb.Error{Type: duckdb.ErrorTypeInternal, Msg: "INTERNAL Error: 360102199001011234"}, "仓库出错"},
	} {
		got, ok := dbFailure(c.err)
		if !ok || !strings.HasPrefix(got, c.want) {
			t.Errorf("%v: %q, want it to start with %q", c.err, got, c.want)
		}
		if strings.Contains(got, "360102199001011234") {
			t.Errorf("%q shows an ID number", got)
		}
	}
	if got, ok := dbFailure(errors.New("IO Error: words only")); ok {
		t.Errorf("an error that only reads like DuckDB's became %q", got)
	}
}
