package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tisheng/ingest"
	"tisheng/internal/gen"
	"tisheng/internal/warehouse"
)

// TestMain lets the test binary stand in for the tisheng binary in subprocess tests.
func TestMain(m *testing.M) {
	if os.Getenv("TISHENG_AS_MAIN") == "1" {
		// as main does: SIGTERM and Ctrl-C end the command's context
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func tisheng(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TISHENG_AS_MAIN=1", ingest.KeyEnv+"=0707070707070707070707070707070707070707070707070707070707070707")
	return cmd
}

func TestIngestCommandJSONAndExitStatus(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	demo, _ := filepath.Glob("../../testdata/demo/学校信息_*")
	rosters, _ := filepath.Glob("../../testdata/demo/*教师名单_2025-06-30*")
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("列一,列二\n1,2\n"), 0o644)
	args := append([]string{"ingest", "--db", db, "--json"}, append(append(demo, rosters...), bad)...)
	cmd := tisheng(args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v (a failed file must make the status non-zero)\n%s", err, stdout.String())
	}
	var statuses []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		for _, k := range []string{"file", "kind", "as_of", "accepted", "rejected", "batch", "status", "error"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("missing %s in %s", k, sc.Text())
			}
		}
		statuses = append(statuses, fmt.Sprint(r["file"], ":", r["status"]))
	}
	got := strings.Join(statuses, " ")
	if !strings.Contains(got, "学校信息_2025-06.xlsx:loaded") || !strings.Contains(got, "bad.csv:failed") || len(statuses) != 6 {
		t.Fatalf("statuses: %s", got)
	}
	// Loading the good files again: every one already_loaded, exit 0.
	cmd = tisheng(append([]string{"ingest", "--db", db}, append(demo, rosters...)...)...)
	out, err := cmd.Output()
	if err != nil || strings.Count(string(out), "已导入过") != 5 {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestKilledMidLoadLeavesWarehouseAsBefore kills the process while a big file loads: the
// warehouse must open afterwards with none of that file in it.
func TestKilledMidLoadLeavesWarehouseAsBefore(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 40,000-teacher export")
	}
	dir := t.TempDir()
	schools, hours := genExports(t, dir, 40000, 3) // hours: the June file, ~1M rows
	db := filepath.Join(dir, "w.duckdb")
	if out, err := tisheng("ingest", "--db", db, schools).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	before := fileSize(db) + fileSize(db+".wal")
	cmd := tisheng("ingest", "--db", db, "-v", hours)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Kill only once the load is writing: DuckDB puts the rows of a large uncommitted
	// insert into the database file as row groups fill, so the file grows mid-transaction.
	var err2 error
	grew := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if fileSize(db)+fileSize(db+".wal") > before+(1<<20) {
			grew = true
			cmd.Process.Signal(syscall.SIGKILL)
			err2 = <-done
			break
		}
		select {
		case err2 = <-done:
			t.Skipf("the load ended (%v) before it was seen writing; nothing to check", err2)
		default:
		}
	}
	if !grew {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		t.Fatal("the load never started writing")
	}
	if err2 == nil {
		t.Skip("the load finished before it could be killed; nothing to check")
	}
	wh, err := warehouse.Open(context.Background(), db)
	if err != nil {
		t.Fatalf("warehouse unusable after a kill: %v", err)
	}
	defer wh.Close()
	var batches, hoursRows, rejects int
	q := func(s string, v *int) {
		if err := wh.DB.QueryRow(s).Scan(v); err != nil && err != sql.ErrNoRows {
			t.Fatal(err)
		}
	}
	q(`SELECT count(*) FROM batches WHERE kind = 'hours'`, &batches)
	q(`SELECT count(*) FROM raw_hours`, &hoursRows)
	q(`SELECT count(*) FROM rejects`, &rejects)
	if batches != 0 || hoursRows != 0 || rejects != 0 {
		t.Fatalf("after the kill: %d hours batches, %d hours rows, %d rejects", batches, hoursRows, rejects)
	}
}

// genExports generates a one-district city of teachers under dir and returns its first
// school list and its last (June) hours file.
func genExports(t *testing.T, dir string, teachers int, seed int64) (schools, hours string) {
	t.Helper()
	sum, err := gen.Generate(gen.Config{Out: filepath.Join(dir, "x"), Districts: 1, Teachers: teachers, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sum.Files {
		if f.Kind == "schools" && schools == "" {
			schools = f.Path
		}
		if f.Kind == "hours" {
			hours = f.Path
		}
	}
	return schools, hours
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestRefreshCommandIncrementalAndFull: after May's files the first refresh rebuilds
// everything; June's files are refreshed from June on; a second refresh has nothing to do;
// --full rebuilds everything again.
func TestRefreshCommandIncrementalAndFull(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.duckdb")
	all, _ := filepath.Glob("../../testdata/demo/*")
	var may, june []string
	for _, f := range all {
		switch b := filepath.Base(f); {
		case strings.Contains(b, "2025-05") || strings.Contains(b, "202505"):
			may = append(may, f)
		case strings.Contains(b, "2025-06") || strings.Contains(b, "202506"):
			june = append(june, f)
		}
	}
	if len(may) < 10 || len(june) < 10 {
		t.Fatalf("demo files: %d for May, %d for June", len(may), len(june))
	}
	steps := []struct {
		args []string
		want string
	}{
		{append([]string{"ingest", "--db", db}, may...), ""},
		{[]string{"refresh", "--db", db}, "全量刷新：尚无上次刷新的记录"},
		{append([]string{"ingest", "--db", db}, june...), ""},
		{[]string{"refresh", "--db", db}, "增量刷新：重算 2025-06 起的月份"},
		{[]string{"refresh", "--db", db}, "模型已是最新"},
		{[]string{"refresh", "--db", db, "--full"}, "全量刷新：指定全量刷新"},
	}
	for _, s := range steps {
		out, err := tisheng(s.args...).CombinedOutput()
		if s.want == "" {
			continue // ingest: rejected demo rows make its status 1
		}
		if err != nil || !strings.Contains(string(out), s.want) {
			t.Fatalf("%s: %v\n%s\nwant %q", strings.Join(s.args[:1], " "), err, out, s.want)
		}
	}
}
