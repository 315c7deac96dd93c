package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tisheng/internal/warehouse"
)

// loadDemo ingests the demo schools, a roster and an hours file and refreshes, through the
// command line.
func loadDemo(t *testing.T, db string) {
	t.Helper()
	files, _ := filepath.Glob("../../testdata/demo/学校信息_2025-06.xlsx")
	files = append(files, "../../testdata/demo/东湖区_教师名单_2025-06-30.csv", "../../testdata/demo/东湖区_学时明细_2025-06.csv")
	for _, args := range [][]string{append([]string{"ingest", "--db", db}, files...), {"refresh", "--db", db}} {
		if out, err := tisheng(args...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
}

func queryOne(t *testing.T, db, q string, args ...any) string {
	t.Helper()
	wh, err := warehouse.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	var v sql.NullString
	if err := wh.DB.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

func TestBatchListAndRemove(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	loadDemo(t, db)
	hours := queryOne(t, db, `SELECT batch_id FROM batches WHERE kind = 'hours'`)
	teachers := queryOne(t, db, `SELECT count(*) FROM teacher_progress`)
	if n := queryOne(t, db, `SELECT count(*) FROM teacher_progress WHERE hour_rows > 0`); n == "0" {
		t.Fatal("the demo hours did not load")
	}

	out, err := tisheng("batch", "list", "--db", db).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "东湖区_学时明细_2025-06.csv") || !strings.Contains(string(out), "hours") {
		t.Fatalf("batch list: %v\n%s", err, out)
	}

	out, err = tisheng("batch", "rm", "--db", db, hours, "999").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "没有编号为 999 的批次") {
		t.Fatalf("removing a missing batch: %v\n%s", err, out)
	}
	if n := queryOne(t, db, `SELECT count(*) FROM raw_hours`); n == "0" {
		t.Fatal("a failed removal removed rows")
	}

	out, err = tisheng("batch", "rm", "--db", db, hours).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "已删除批次 "+hours) {
		t.Fatalf("batch rm: %v\n%s", err, out)
	}
	for _, q := range []string{
		`SELECT count(*) FROM raw_hours`,
		`SELECT count(*) FROM batches WHERE kind = 'hours'`,
		`SELECT count(*) FROM rejects WHERE batch_id = ` + hours,
		// refreshed: no teacher has hours any more
		`SELECT count(*) FROM teacher_progress WHERE hour_rows > 0`,
	} {
		if n := queryOne(t, db, q); n != "0" {
			t.Errorf("%s = %s after the removal", q, n)
		}
	}
	if n := queryOne(t, db, `SELECT count(*) FROM teacher_progress`); n != teachers {
		t.Errorf("teacher_progress has %s teachers, was %s: the roster must stay", n, teachers)
	}
	if who := queryOne(t, db, `SELECT removed_by FROM batch_removals WHERE batch_id = ?`, hours); who != osUser() || who == "" {
		t.Errorf("removed_by %q, want %q", who, osUser())
	}
}

// TestReadCommandsRefuseAMissingWarehouse: a mistyped --db is an error naming the file, and
// no empty warehouse appears.
func TestReadCommandsRefuseAMissingWarehouse(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "typo.duckdb")
	for _, args := range [][]string{
		{"refresh", "--db", db},
		{"report", "monthly", "--db", db, "--out", filepath.Join(dir, "m.xlsx")},
		{"sql", "--db", db, "SELECT 1"},
		{"batch", "list", "--db", db},
		{"batch", "rm", "--db", db, "1"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), args, &bytes.Buffer{}, &stderr); code == 0 {
				t.Fatal("exit 0 for a missing warehouse")
			}
			if !strings.Contains(stderr.String(), "仓库文件 "+db+" 不存在") {
				t.Errorf("stderr: %s", stderr.String())
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Fatalf("%v created a warehouse at the mistyped path", args)
			}
		})
	}
}

// TestCommandOnAServedWarehouse: another process holds the warehouse (as serve does); a
// command gets a Chinese message naming that process, not DuckDB's lock error.
func TestCommandOnAServedWarehouse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	loadDemo(t, db)
	// Listen on a free port and wait for /healthz: a command run before serve has opened
	// the file would take the lock first and make serve the one refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	holder := tisheng("serve", "--db", db, "--addr", addr, "-v=false")
	var holderOut bytes.Buffer
	holder.Stdout = &holderOut
	holder.Stderr = &holderOut
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	want := fmt.Sprintf("正被进程 %d", holder.Process.Pid)
	for i := 0; ; i++ {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 600 {
			t.Fatalf("serve did not start: %s", holderOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, args := range [][]string{{"batch", "list", "--db", db}, {"refresh", "--db", db}, {"sql", "--db", db, "SELECT 1"}} {
		out, err := tisheng(args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "tisheng serve") ||
			strings.Contains(string(out), "Conflicting lock") {
			t.Errorf("%v: %v\n%s\nserve said: %s", args, err, out, holderOut.String())
		}
	}
}
