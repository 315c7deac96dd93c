package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"tisheng/ingest"
	"tisheng/queries"
)

type ingestConfig struct {
	db        string
	asOf      string
	schools   schoolFlag
	fromName  string
	kind      string
	catalogue string
	json      bool
	verbose   bool
	files     []string
}

var reSchoolCode = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)

// schoolFlag is --school, given once as CODE (the school of every file) or any number of
// times as CODE=FILE (the school of that file).
type schoolFlag struct {
	all     string
	perFile map[string]string // cleaned path -> code
	order   []string          // the CODE=FILE files in the order given
}

func (s *schoolFlag) String() string { return s.all }

func (s *schoolFlag) Set(v string) error {
	code, file, perFile := strings.Cut(v, "=")
	if !reSchoolCode.MatchString(code) {
		return fmt.Errorf("学校代码「%s」应为字母、数字", code)
	}
	if !perFile {
		if s.all != "" {
			return fmt.Errorf("只能给一个学校代码；多个文件各有学校时，写成 --school 代码=文件")
		}
		s.all = code
		return nil
	}
	if file == "" {
		return fmt.Errorf("--school %s= 后面缺少文件名", code)
	}
	if s.perFile == nil {
		s.perFile = map[string]string{}
	}
	p := filepath.Clean(file)
	if _, dup := s.perFile[p]; !dup {
		s.order = append(s.order, p)
	}
	s.perFile[p] = code
	return nil
}

const ingestSynopsis = "tisheng ingest --db 文件 [--as-of YYYY-MM-DD] [--school 学校代码 | --school 学校代码=文件 …] [--school-from-name 模式] [--kind 类型] [--catalogue 目录名] [--json] 文件…"

func parseIngestFlags(args []string, stdout, stderr io.Writer) (ingestConfig, error) {
	var c ingestConfig
	fs := newFlags("ingest")
	fs.StringVar(&c.db, "db", "", "仓库`文件`（没有就新建）")
	fs.StringVar(&c.asOf, "as-of", "", "数据截止日期 `YYYY-MM-DD`（默认：先看标题行，再看文件名）")
	fs.Var(&c.schools, "school", "研修考核文件（或没有学校列的文件）的 `学校代码`，用于全部文件；写成 学校代码=文件 则只用于那个文件，可重复")
	fs.StringVar(&c.fromName, "school-from-name", "", "从文件名读出学校代码的 `模式`，{code} 处是代码，例如 '研修考核_{code}_'")
	fs.StringVar(&c.kind, "kind", "", "导出类型（schools、teachers、hours、progress、assessments、catalogue），不从表头识别")
	fs.StringVar(&c.catalogue, "catalogue", "", "能力点目录名：目录文件的名字，或测评结果对照的目录（默认 national）")
	fs.BoolVar(&c.json, "json", false, "每个文件输出一行 JSON")
	fs.BoolVar(&c.verbose, "v", false, "记录每次导入的日志")
	files, err := parseFlags(fs, ingestSynopsis, args, stdout, stderr)
	if err != nil {
		return c, err
	}
	c.files = files
	// A CODE=FILE file need not be repeated among the files.
	listed := map[string]bool{}
	for _, f := range c.files {
		listed[filepath.Clean(f)] = true
	}
	for _, f := range c.schools.order {
		if !listed[f] {
			c.files = append(c.files, f)
		}
	}
	if c.db == "" {
		return c, usagef("需要 --db 仓库文件")
	}
	if len(c.files) == 0 {
		return c, usagef("没有给出要导入的文件")
	}
	if c.fromName != "" && !strings.Contains(c.fromName, "{code}") {
		return c, usagef("--school-from-name %q 里没有 {code}（学校代码所在的位置）", c.fromName)
	}
	return c, nil
}

// schoolFromName turns a pattern like 研修考核_{code}_ into a matcher of base names.
func schoolFromName(pattern string) func(path string) string {
	if pattern == "" {
		return func(string) string { return "" }
	}
	before, after, _ := strings.Cut(pattern, "{code}")
	re := regexp.MustCompile(regexp.QuoteMeta(before) + `([0-9A-Za-z]+)` + regexp.QuoteMeta(after))
	return func(path string) string {
		if m := re.FindStringSubmatch(filepath.Base(path)); m != nil {
			return m[1]
		}
		return ""
	}
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseIngestFlags(args, stdout, stderr)
	if err != nil {
		return exitStatus(stderr, "ingest", err)
	}
	var opts ingest.Options
	if cfg.asOf != "" {
		t, err := time.Parse("2006-01-02", cfg.asOf)
		if err != nil {
			return exitStatus(stderr, "ingest", usagef("--as-of %q 应为 YYYY-MM-DD", cfg.asOf))
		}
		opts.AsOf = t
	}
	if cfg.kind != "" {
		if opts.Kind, opts.Shape, err = ingest.ParseKind(cfg.kind); err != nil {
			return exitStatus(stderr, "ingest", usagef("没有导出类型「%s」（可选 schools 学校信息、teachers 教师名单、hours 学时、hours_detail 学时明细、hours_summary 学时汇总、progress 研修考核、assessments 能力点测评结果、catalogue 能力点目录）", cfg.kind))
		}
	}
	opts.School, opts.Catalogue = cfg.schools.all, cfg.catalogue

	wh, loader, err := openLoader(ctx, cfg.db, newLogger(stderr, cfg.verbose))
	if err != nil {
		return exitStatus(stderr, "ingest", err)
	}
	defer wh.Close()
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	status := 0
	emit := func(r ingest.Result) {
		if r.Status == ingest.StatusFailed {
			status = 1
		}
		if cfg.json {
			_ = enc.Encode(r)
			return
		}
		printResult(stdout, r)
	}
	// Files with a school of their own are loaded one by one, in the dependency order
	// LoadFiles would use (catalogues, schools, rosters, then the rest).
	byName := schoolFromName(cfg.fromName)
	school := func(f string) string {
		if c, ok := cfg.schools.perFile[filepath.Clean(f)]; ok {
			return c
		}
		return byName(f)
	}
	own := false
	for _, f := range cfg.files {
		own = own || school(f) != ""
	}
	if !own {
		loader.LoadFiles(ctx, cfg.files, opts, emit)
		return status
	}
	files := append([]string(nil), cfg.files...)
	rank := map[string]int{}
	for _, f := range files {
		k := ingest.Kind("")
		if opts.Kind != "" {
			k = opts.Kind
		} else if pk, err := ingest.PeekKind(f); err == nil {
			k = pk
		}
		rank[f] = ingest.LoadRank(k)
	}
	sort.SliceStable(files, func(a, b int) bool { return rank[files[a]] < rank[files[b]] })
	for _, f := range files {
		o := opts
		if c := school(f); c != "" {
			o.School = c
		}
		emit(loader.LoadFile(ctx, f, o))
	}
	return status
}

// printResult writes the one-line summary of a file, and its first rejects below it.
func printResult(w io.Writer, r ingest.Result) {
	kind := queries.KindLabel(r.Kind, r.Shape)
	switch r.Status {
	case ingest.StatusFailed:
		fmt.Fprintf(w, "导入失败  %s\n  %s\n", r.File, r.Error)
		return
	case ingest.StatusAlreadyLoaded:
		fmt.Fprintf(w, "已导入过  %s  截止 %-10s  接收 %7d  拒收 %6d  批次 %d  %s\n",
			padRight(kind, 14), r.AsOf, r.Accepted, r.Rejected, r.Batch, r.File)
		return
	}
	fmt.Fprintf(w, "已导入    %s  截止 %-10s  接收 %7d  拒收 %6d  批次 %d  %s\n",
		padRight(kind, 14), orDash(r.AsOf), r.Accepted, r.Rejected, r.Batch, r.File)
	for i, rj := range r.Rejects {
		if i == 5 {
			fmt.Fprintf(w, "  … 共 %d 行被拒，详见 rejects 表（batch_id = %d）\n", r.Rejected, r.Batch)
			break
		}
		col := ""
		if rj.Column != "" {
			col = "「" + rj.Column + "」"
		}
		fmt.Fprintf(w, "  第%d行%s：%s\n", rj.Row, col, rj.Reason)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
