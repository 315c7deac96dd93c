package main

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tisheng/internal/docx"
)

// The document commands: the annual report for all and for a district, one school's
// diagnosis, a district's diagnoses in one zip; each a package Word opens, with the unit
// given at its end. (loadDemo loads 东湖区's June files.)
func TestDocumentCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	loadDemo(t, db)
	school := queryOne(t, db, `SELECT min(school_code) FROM school_gate`)
	teachers := queryOne(t, db, `SELECT count(*) FROM teacher_progress`)
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := docx.Check(b); err != nil {
			t.Fatal(err)
		}
		d, err := docx.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		return d.Text()
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"report", "annual-doc", "--db", db, "--unit", "东湖区教师发展中心", "--out", filepath.Join(dir, "a.docx")},
			[]string{"2025年度", "名单内教师" + teachers + "人", "东湖区教师发展中心"}},
		{[]string{"report", "annual-doc", "--db", db, "--district", "东湖区", "--year", "2025", "--out", filepath.Join(dir, "d.docx")},
			[]string{"东湖区2025年度", "名单内教师" + teachers + "人", "【请填写发文单位】"}},
		{[]string{"report", "annual-doc", "--db", db, "--year", "2024", "--out", filepath.Join(dir, "e.docx")},
			[]string{"2024年没有任何数据"}},
		{[]string{"report", "swot", "--db", db, "--school", school, "--out", filepath.Join(dir, "s.docx")},
			[]string{"学校代码" + school, "优势（S）", "【请学校填写】"}},
	} {
		code, stdout, stderr := runCLI(t, nil, c.args...)
		out := c.args[len(c.args)-1]
		if code != 0 || !strings.Contains(stdout, "已写入 "+out) {
			t.Fatalf("%v: exit %d\n%s%s", c.args, code, stdout, stderr)
		}
		text := read(out)
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", filepath.Base(out), w)
			}
		}
	}
	zipPath := filepath.Join(dir, "z.zip")
	if code, _, stderr := runCLI(t, nil, "report", "swot", "--db", db, "--district", "东湖区", "--out", zipPath); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if want := queryOne(t, db, `SELECT count(*) FROM school_gate WHERE district = '东湖区'`); len(z.File) == 0 || fmt.Sprint(len(z.File)) != want {
		t.Errorf("%d documents, %s schools", len(z.File), want)
	}
}

// What cannot run is refused with exit status 2 before the warehouse is opened.
func TestDocumentCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"annual as xlsx", []string{"report", "annual-doc", "--db", db, "--out", filepath.Join(dir, "a.xlsx")}, "应以 .docx 结尾"},
		{"annual no out", []string{"report", "annual-doc", "--db", db}, "需要 --out"},
		{"annual bad year", []string{"report", "annual-doc", "--db", db, "--year", "25", "--out", filepath.Join(dir, "a.docx")}, "应为四位年份"},
		{"annual by school", []string{"report", "annual-doc", "--db", db, "--school", "3601000001", "--out", filepath.Join(dir, "a.docx")}, "不按学校"},
		{"swot nothing", []string{"report", "swot", "--db", db, "--out", filepath.Join(dir, "s.docx")}, "需要 --school"},
		{"swot district as docx", []string{"report", "swot", "--db", db, "--district", "东湖区", "--out", filepath.Join(dir, "s.docx")}, "应以 .zip 结尾"},
		{"swot year", []string{"report", "swot", "--db", db, "--school", "3601000001", "--year", "2025", "--out", filepath.Join(dir, "s.docx")}, "不接受 --year"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, c.want)
			}
		})
	}
	for _, p := range []string{db, filepath.Join(dir, "a.docx"), filepath.Join(dir, "s.docx"), filepath.Join(dir, "a.xlsx")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	// a mistyped warehouse is named, not created
	code, _, stderr := runCLI(t, nil, "report", "annual-doc", "--db", db, "--out", filepath.Join(dir, "a.docx"))
	if code == 0 || !strings.Contains(stderr, "不存在") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("a warehouse was created at the mistyped path")
	}
}
