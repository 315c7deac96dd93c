package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the binary with args and returns its exit status, stdout and stderr.
func runCLI(t *testing.T, stdout *os.File, args ...string) (int, string, string) {
	t.Helper()
	cmd := tisheng(args...)
	var out, errb bytes.Buffer
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// Command lines that cannot run are refused with exit status 2 and a Chinese message that
// names what is wrong; none panics, none writes what it should not.
func TestCLIRefusals(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine")
	os.MkdirAll(mine, 0o755)
	os.WriteFile(filepath.Join(mine, "论文.docx"), []byte("用户自己的文件"), 0o644)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	db := filepath.Join(dir, "w.duckdb")
	for _, c := range []struct {
		name   string
		args   []string
		stdout *os.File // a character device stands in for a terminal
		want   string
	}{
		{"demo into a user's directory", []string{"demo", "--dir", mine}, nil, "不是空的"},
		{"gen no teachers", []string{"gen", "--out", filepath.Join(dir, "g"), "--teachers", "0"}, nil, "--teachers 应在"},
		{"gen negative teachers", []string{"gen", "--out", filepath.Join(dir, "g"), "--teachers", "-5"}, nil, "--teachers 应在"},
		{"gen fewer teachers than districts", []string{"gen", "--out", filepath.Join(dir, "g"), "--teachers", "2", "--districts", "3"}, nil, "每个区县至少 2 人"},
		{"gen no districts", []string{"gen", "--out", filepath.Join(dir, "g"), "--districts", "0"}, nil, "--districts 应在"},
		{"gen not a number", []string{"gen", "--out", filepath.Join(dir, "g"), "--teachers", "许多"}, nil, "选项 --teachers 的值"},
		{"report as csv", []string{"report", "monthly", "--db", db, "--out", filepath.Join(dir, "x.csv")}, nil, "应以 .xlsx 结尾"},
		{"report unknown", []string{"report", "weekly", "--db", db}, nil, "没有报表「weekly」"},
		{"report month shape", []string{"report", "monthly", "--db", db, "--month", "2025-6"}, nil, "应为 YYYY-MM"},
		{"ingest unknown kind", []string{"ingest", "--db", db, "--kind", "foo", "x.csv"}, nil, "没有导出类型「foo」"},
		{"sql xlsx to a terminal", []string{"sql", "--db", db, "--format", "xlsx", "SELECT 1"}, devnull, "不能输出到终端"},
		{"sql arrow to a terminal", []string{"sql", "--db", db, "--format", "arrow", "SELECT 1"}, devnull, "不能输出到终端"},
		{"unknown flag", []string{"refresh", "--db", db, "--profil", "x"}, nil, "没有这个选项：--profil"},
		{"missing value", []string{"ingest", "--db"}, nil, "选项 --db 需要一个值"},
		{"no --db", []string{"sql", "SELECT 1"}, nil, "需要 --db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.stdout, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, c.want)
			}
			for _, english := range []string{"goroutine", "panic", "flag provided", "Usage", "usage:", "default"} {
				if strings.Contains(stderr, english) {
					t.Errorf("stderr has %q:\n%s", english, stderr)
				}
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(mine, "论文.docx")); err != nil || string(b) != "用户自己的文件" {
		t.Errorf("demo touched the user's file: %v", err)
	}
	for _, p := range []string{filepath.Join(dir, "x.csv"), filepath.Join(dir, "g"), db} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
}

func TestCLIHelpInChinese(t *testing.T) {
	// every command and every sub-command: -h prints its usage, exits 0, opens nothing
	for _, args := range [][]string{{"ingest"}, {"refresh"}, {"report"}, {"report", "annual-doc"}, {"report", "swot"},
		{"serve"}, {"sql"}, {"gen"}, {"demo"}, {"deliver"},
		{"user"}, {"user", "add"}, {"user", "list"}, {"user", "disable"}, {"user", "enable"}, {"user", "unlock"}, {"user", "passwd"},
		{"token"}, {"token", "add"}, {"token", "list"}, {"token", "revoke"},
		{"batch"}, {"batch", "list"}, {"batch", "rm"},
		{"subscription"}, {"subscription", "add"}, {"subscription", "list"}, {"subscription", "rm"}} {
		cmd := args[0]
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, _ := runCLI(t, nil, append(args, "-h")...)
			if len(args) > 1 || cmd == "user" || cmd == "token" || cmd == "batch" || cmd == "subscription" {
				if code != 0 || !strings.Contains(stdout, "用法：tisheng "+cmd) {
					t.Fatalf("exit %d:\n%s", code, stdout)
				}
				return
			}
			if code != 0 || !strings.Contains(stdout, "用法：tisheng "+cmd) || !strings.Contains(stdout, "--db") && cmd != "gen" && cmd != "demo" {
				t.Fatalf("exit %d:\n%s", code, stdout)
			}
			// Every option has a Chinese description.
			lines := strings.Split(stdout, "\n")
			for i, l := range lines {
				if strings.HasPrefix(l, "  --") && (i+1 >= len(lines) || !strings.ContainsFunc(lines[i+1], func(r rune) bool { return r > 0x2E80 })) {
					t.Errorf("option without a Chinese description: %s", l)
				}
			}
		})
	}
}

// The README's commands, run on the demo exports: 研修考核 files get their school from
// their names (--school-from-name) or one by one (--school CODE=FILE), flags may follow
// the files, and a refresh of a new warehouse finds the national catalogue.
func TestIngestSchoolsOfProgressFiles(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/demo/*")
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	// a new warehouse: made by ingest (refresh refuses a file that does not exist)
	schools, _ := filepath.Glob("../../testdata/demo/学校信息_2025-05*")
	if code, out, stderr := runCLI(t, nil, append([]string{"ingest", "--db", db}, schools...)...); code != 0 {
		t.Fatalf("ingest into a new warehouse: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, nil, "refresh", "--db", db); code != 0 {
		t.Fatalf("refresh of a new warehouse: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr := runCLI(t, nil, append([]string{"ingest", "--db", db, "--school-from-name", "研修考核_{code}_"}, files...)...)
	if code != 0 || strings.Contains(out, "导入失败") || strings.Count(out, "已导入    研修考核") != 6 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	// One by one, the flag after the files.
	db2 := filepath.Join(dir, "w2.duckdb")
	var plain []string
	var progress []string
	for _, f := range files {
		if strings.Contains(f, "研修考核_") {
			code := strings.Split(filepath.Base(f), "_")[1]
			progress = append(progress, "--school", code+"="+f)
		} else {
			plain = append(plain, f)
		}
	}
	code, out, stderr = runCLI(t, nil, append(append([]string{"ingest", "--db", db2}, plain...), progress...)...)
	if code != 0 || strings.Contains(out, "导入失败") || strings.Count(out, "已导入    研修考核") != 6 {
		t.Fatalf("exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := runCLI(t, nil, "refresh", "--db", db2); code != 0 {
		t.Fatalf("refresh: exit %d\n%s%s", code, out, stderr)
	}
	// A CJK column lines up by display width in the terminal table.
	code, out, _ = runCLI(t, nil, "sql", "--db", db2, "SELECT district, count(*) AS n FROM school_gate GROUP BY 1 UNION ALL SELECT 'x', 0 ORDER BY 1")
	if code != 0 {
		t.Fatalf("sql: %d %s", code, out)
	}
	var cols []int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		cols = append(cols, displayWidth(l)-displayWidth(f[len(f)-1]))
	}
	for _, c := range cols[1:] {
		if c != cols[0] {
			t.Errorf("columns do not line up:\n%s", out)
			break
		}
	}
}
