package warehouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/duckdb/duckdb-go/v2"
)

// LockedError is a warehouse file another process holds, usually tisheng serve.
type LockedError struct {
	Path    string
	Program string
	PID     int
	Err     error
}

func (e *LockedError) Error() string {
	who := "另一个进程"
	if e.PID > 0 {
		who = fmt.Sprintf("进程 %d", e.PID)
		if e.Program != "" {
			who += "（" + e.Program + "）"
		}
	}
	return fmt.Sprintf("仓库文件 %s 正被%s占用，通常是 tisheng serve 正在提供服务。"+
		"请先停止该进程（kill %s）再运行此命令，或在网页上操作：上传文件、管理批次（/api/admin/batches）、刷新（/api/admin/refresh）",
		e.Path, who, pidText(e.PID))
}

func (e *LockedError) Unwrap() error { return e.Err }

func pidText(pid int) string {
	if pid <= 0 {
		return "PID"
	}
	return strconv.Itoa(pid)
}

// lockError turns DuckDB's refusal to open a file that another process holds into a
// LockedError; other errors pass. The refusal is DuckDB's IO error (the driver's error
// type), and who holds the file is asked of the kernel (the fcntl lock DuckDB takes on the
// whole file), not read from DuckDB's English message.
func lockError(file string, err error) error {
	var de *duckdb.Error
	if err == nil || !errors.As(err, &de) || de.Type != duckdb.ErrorTypeIO {
		return err
	}
	pid, ok := lockHolder(file)
	if !ok {
		return err
	}
	return &LockedError{Path: file, Program: programOf(pid), PID: pid, Err: err}
}

// ErrNoWarehouse is a command that reads a warehouse given a file that does not exist.
var ErrNoWarehouse = errors.New("warehouse file does not exist")

// NoWarehouseError names the missing file, in Chinese.
type NoWarehouseError struct{ Path string }

func (e *NoWarehouseError) Error() string {
	return fmt.Sprintf("仓库文件 %s 不存在：请检查 --db（只有 tisheng ingest 和 tisheng demo 会新建仓库）", e.Path)
}

func (e *NoWarehouseError) Is(target error) bool { return target == ErrNoWarehouse }

// OpenExisting opens a warehouse that must already exist, read-write, for commands that
// work on one (refresh, batch): a mistyped --db is an error, not a new empty warehouse.
func OpenExisting(ctx context.Context, file string) (*Warehouse, error) {
	if err := mustExist(file); err != nil {
		return nil, err
	}
	return Open(ctx, file)
}

func mustExist(file string) error {
	if file == "" {
		return errors.New("warehouse: no database file given")
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return &NoWarehouseError{Path: file}
	} else if err != nil {
		return fmt.Errorf("warehouse: %w", err)
	}
	return nil
}
