package ingest

import (
	"errors"

	"github.com/duckdb/duckdb-go/v2"
)

// dbFailure says in Chinese why the database refused a file, from the driver's error type
// (not DuckDB's English words, which follow, masked, for whoever reads further). Nothing of
// the file was written: it is one transaction.
func dbFailure(err error) (string, bool) {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return "", false
	}
	var s string
	switch de.Type {
	case duckdb.ErrorTypeOutOfMemory:
		s = "仓库内存不足，文件未导入：请稍后重试，或调高 TISHENG_MEMORY_LIMIT"
	case duckdb.ErrorTypeIO:
		s = "写入仓库文件失败（磁盘空间或文件权限），文件未导入"
	case duckdb.ErrorTypeInterrupt:
		s = "导入被中断，文件未导入"
	case duckdb.ErrorTypeTransaction:
		s = "仓库正被另一项写入修改，文件未导入：请重试"
	case duckdb.ErrorTypeConstraint:
		s = "数据不符合仓库的约束，文件未导入"
	default:
		s = "仓库出错，文件未导入"
	}
	return s + "（" + maskSensitive(de.Msg) + "）", true
}
