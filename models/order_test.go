package models

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
)

// orderFile is one export of a set, with what its command line would give.
type orderFile struct {
	path string
	opts ingest.Options
}

// demoSet is the committed demo exports; 研修考核 files get their school from their name, as
// `make run` passes it.
func demoSet(t *testing.T) []orderFile {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "demo", "*"))
	if len(paths) < 20 {
		t.Fatalf("demo set: %d files", len(paths))
	}
	sort.Strings(paths)
	re := regexp.MustCompile(`研修考核_(\d+)_`)
	var set []orderFile
	for _, p := range paths {
		f := orderFile{path: p}
		if m := re.FindStringSubmatch(filepath.Base(p)); m != nil {
			f.opts.School = m[1]
		}
		set = append(set, f)
	}
	return set
}

// Hand-made IDs for the small fixture.
var (
	oT1  = ingest.CompleteID("36010219800101001")
	oT2  = ingest.CompleteID("36010219800101002")
	oW1  = ingest.CompleteID("36010219800101003") // two 王五 at 东湖小学
	oW2  = ingest.CompleteID("36010219800101004")
	oT3  = ingest.CompleteID("36010219800101005")
	oT4  = ingest.CompleteID("36010219800101006")
	oQ7  = ingest.CompleteID("36010219800101009") // 钱七: on no roster
	mask = func(id string) string { return id[:6] + "********" + id[14:] }
)

// handSet writes a small set whose rows depend on other files in every way: rosters and
// hours naming schools by name, masked IDs that fit one, two or no roster teachers, a school
// first listed in June, an unknown school code, and 研修考核 files whose --school is listed
// and not listed, or differs from the school a row names.
func handSet(t *testing.T, dir string) []orderFile {
	t.Helper()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	roster := fmt.Sprintf("姓名,身份证号,学校名称,是否专任教师\nT1,%s,东湖小学,是\nT2,%s,东湖小学,是\n王五,%s,东湖小学,是\n王五,%s,东湖小学,否\nT3,%s,西山中学,是\n",
		oT1, oT2, oW1, oW2, oT3)
	return []orderFile{
		{path: write("schools_2025-05-31.csv", "学校代码,学校名称,所属区县\nS1,东湖小学,东湖区\nS2,西山中学,西山区\n")},
		{path: write("schools_2025-06-30.csv", "学校代码,学校名称,所属区县\nS1,东湖小学,东湖区\nS2,西山中学,西山区\nS3,北塘小学,东湖区\n")},
		{path: write("roster_2025-05-31.csv", roster)},
		{path: write("roster_2025-06-30.csv", roster+fmt.Sprintf("T4,%s,北塘小学,是\n", oT4))},
		{path: write("hours_2025-05-31.csv", "姓名,身份证号,学校名称,研修类型,活动名称,学时\n"+
			fmt.Sprintf("T1,%s,东湖小学,网络研修,课1,10\n", oT1)+
			fmt.Sprintf("T2,%s,东湖小学,校本研修,活1,5\n", mask(oT2))+
			"王五,360102*******,东湖小学,网络研修,课2,3\n"+
			fmt.Sprintf("钱七,%s,北塘小学,网络研修,课3,4\n", oQ7)+
			fmt.Sprintf("T3,%s,西山中学,网络研修,课4,6\n", oT3))},
		{path: write("hours_2025-06-30.csv", "姓名,身份证号,学校代码,研修类型,活动名称,学时\n"+
			fmt.Sprintf("T1,%s,S1,网络研修,课1,10\n", oT1)+
			fmt.Sprintf("T1,%s,S1,校本研修,活2,20\n", oT1)+
			fmt.Sprintf("T2,%s,S1,校本研修,活1,7\n", mask(oT2))+
			fmt.Sprintf("王五,%s,S1,网络研修,课2,3\n", mask(oW1))+
			fmt.Sprintf("T3,%s,S9,网络研修,课4,8\n", oT3))},
		{path: write("研修考核_S1_2025-06-30.csv", "序号,姓名,身份证号,个人提升计划,校本研修学时,个人提升总结\n"+
			fmt.Sprintf("1,T1,%s,已上传,25/25,3/3\n", mask(oT1))+
			fmt.Sprintf("2,T4,%s,已上传,10/25,1/3\n", mask(oT4))+
			"3,查无此人,360201********0000,已上传,25/25,3/3\n"),
			opts: ingest.Options{School: "S1"}},
		{path: write("研修考核_S2_2025-06-30.csv", "序号,姓名,身份证号,学校名称,个人提升计划,校本研修学时,个人提升总结\n"+
			fmt.Sprintf("1,T3,%s,西山中学,已上传,25/25,3/3\n", mask(oT3))+
			fmt.Sprintf("2,T1,%s,东湖小学,已上传,25/25,3/3\n", mask(oT1))),
			opts: ingest.Options{School: "S2"}},
		{path: write("研修考核_S7_2025-06-30.csv", "序号,姓名,身份证号,个人提升计划,校本研修学时,个人提升总结\n"+
			fmt.Sprintf("1,T3,%s,已上传,25/25,3/3\n", mask(oT3))),
			opts: ingest.Options{School: "S7"}},
		{path: write("assess_2025-06-30.csv", "姓名,身份证号,学校名称,能力点,测评结果\n"+
			fmt.Sprintf("T1,%s,东湖小学,A1,合格\n", oT1)+
			fmt.Sprintf("T2,%s,东湖小学,A2,合格\n", mask(oT2))+
			fmt.Sprintf("T4,%s,北塘小学,A1,合格\n", oT4))},
	}
}

// loadWay is how a set's files are given: in dependency order in one command, in a given
// order one command per file, or in a given order in one command (研修考核 files, which
// need their own --school, one command each, first).
type loadWay struct {
	name    string
	perFile bool
	files   []orderFile
}

// build loads the files into a new warehouse under dir the given way, refreshes it with the
// national profile and closes it, returning the database file.
func buildWay(t *testing.T, dir string, w loadWay) string {
	t.Helper()
	ctx := context.Background()
	db := filepath.Join(dir, w.name+".duckdb")
	wh, err := warehouse.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	l, err := ingest.NewLoader(ctx, wh, bytes.Repeat([]byte{3}, 32), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var results []ingest.Result
	if w.perFile {
		for _, f := range w.files {
			results = append(results, l.LoadFile(ctx, f.path, f.opts))
		}
	} else {
		var plain []string
		for _, f := range w.files {
			if f.opts.School != "" {
				results = append(results, l.LoadFile(ctx, f.path, f.opts))
			} else {
				plain = append(plain, f.path)
			}
		}
		results = append(results, l.LoadFiles(ctx, plain, ingest.Options{}, nil)...)
	}
	for _, r := range results {
		if r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s: %s %s", w.name, r.File, r.Status, r.Error)
		}
	}
	p, err := LoadProfile("national")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Refresh(ctx, wh, p); err != nil {
		t.Fatalf("%s: %v", w.name, err)
	}
	return db
}

// dependencyOrder is the reference: every school list, then every roster, then the rest.
func dependencyOrder(set []orderFile) loadWay {
	rank := func(f orderFile) int {
		switch b := filepath.Base(f.path); {
		case strings.Contains(b, "学校信息") || strings.HasPrefix(b, "schools"):
			return 0
		case strings.Contains(b, "教师名单") || strings.HasPrefix(b, "roster"):
			return 1
		}
		return 2
	}
	files := append([]orderFile(nil), set...)
	sort.SliceStable(files, func(i, j int) bool { return rank(files[i]) < rank(files[j]) })
	return loadWay{name: "dependency", perFile: true, files: files}
}

// shuffledWays are the orders compared with the dependency order: the exact reverse, and
// seeded shuffles, one command per file and in one command.
func shuffledWays(set []orderFile) []loadWay {
	dep := dependencyOrder(set).files
	rev := make([]orderFile, len(dep))
	for i, f := range dep {
		rev[len(dep)-1-i] = f
	}
	ways := []loadWay{{name: "reverse_per_file", perFile: true, files: rev}}
	for _, seed := range []int64{1, 2, 3} {
		files := append([]orderFile(nil), set...)
		rand.New(rand.NewSource(seed)).Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
		ways = append(ways, loadWay{name: fmt.Sprintf("shuffle%d_per_file", seed), perFile: true, files: files})
	}
	files := append([]orderFile(nil), set...)
	rand.New(rand.NewSource(4)).Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	return append(ways, loadWay{name: "shuffle4_one_command", files: files})
}

// TestLoadOrderDoesNotMatter loads each set in dependency order and in shuffled orders (one
// command, and one file per command) and requires every analyst table to hold the same rows
// after refresh: counts equal and EXCEPT ALL empty both ways. Batch ids differ between
// orders, so they are compared as the file they name; load times are left out.
func TestLoadOrderDoesNotMatter(t *testing.T) {
	sets := map[string]func(t *testing.T, dir string) []orderFile{
		"demo": func(t *testing.T, _ string) []orderFile { return demoSet(t) },
		"hand": handSet,
	}
	for _, name := range []string{"hand", "demo"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			set := sets[name](t, dir)
			ref := buildWay(t, dir, dependencyOrder(set))
			if name == "demo" {
				t.Run("unmatched", func(t *testing.T) { demoUnmatched(t, ref) })
			}
			for _, w := range shuffledWays(set) {
				t.Run(w.name, func(t *testing.T) {
					other := buildWay(t, dir, w)
					compareWarehouses(t, ref, other)
				})
			}
		})
	}
}

// compareWarehouses attaches both files to a fresh in-memory database and compares every
// analyst table.
func compareWarehouses(t *testing.T, a, b string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for alias, path := range map[string]string{"a": a, "b": b} {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("ATTACH '%s' AS %s (READ_ONLY)", path, alias)); err != nil {
			t.Fatal(err)
		}
	}
	nonEmpty := map[string]bool{}
	for _, table := range builtin(t).AnalystTables() {
		// A partitioned model is a view over its month tables, which DuckDB 1.5.6 binds in
		// the view's own database (1.1.2 bound them in the database in use: USE came first).
		for _, db := range []string{"a", "b"} {
			if _, err := conn.ExecContext(ctx, fmt.Sprintf(`CREATE OR REPLACE TEMP TABLE "cmp_%s" AS SELECT * FROM %s."%s"`, db, db, table)); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		}
		cols, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM duckdb_columns()
			WHERE database_name = 'a' AND schema_name = 'main' AND table_name = ? ORDER BY column_index`, table)
		if err != nil {
			t.Fatal(err)
		}
		var sel []string
		for cols.Next() {
			var c, typ string
			if err := cols.Scan(&c, &typ); err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasPrefix(typ, "TIMESTAMP"):
				// when a file was loaded or a refresh ran differs by construction
			case strings.HasSuffix(c, "batch_id"):
				sel = append(sel, fmt.Sprintf(`(SELECT file_name FROM %%[1]s.batches x WHERE x.batch_id = t."%s") AS "%s"`, c, c))
			default:
				sel = append(sel, fmt.Sprintf(`t."%s"`, c))
			}
		}
		cols.Close()
		if len(sel) == 0 {
			t.Fatalf("%s: no columns found", table)
		}
		q := func(db string) string {
			return fmt.Sprintf("SELECT "+strings.Join(sel, ", ")+" FROM temp.\"cmp_%[1]s\" t", db)
		}
		var na, nb, onlyA, onlyB int
		err = conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT (SELECT count(*) FROM temp.cmp_a), (SELECT count(*) FROM temp.cmp_b),
			(SELECT count(*) FROM (%[2]s EXCEPT ALL %[3]s)), (SELECT count(*) FROM (%[3]s EXCEPT ALL %[2]s))`,
			table, q("a"), q("b"))).Scan(&na, &nb, &onlyA, &onlyB)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if na != nb || onlyA != 0 || onlyB != 0 {
			t.Errorf("%s: %d rows in dependency order, %d here; %d only there, %d only here", table, na, nb, onlyA, onlyB)
		}
		nonEmpty[table] = na > 0
	}
	for _, table := range []string{"teacher_progress", "school_gate", "unmatched_rows", "teacher_points", "teacher_plan", "masked_ids"} {
		if !nonEmpty[table] {
			t.Errorf("%s is empty: the comparison proves little", table)
		}
	}
}

// TestResolvedAtRefresh checks, by hand, what the small set's rows count for once schools and
// masked IDs are resolved at refresh, with the set loaded in the worst order (every file
// before the school lists and rosters it depends on).
func TestResolvedAtRefresh(t *testing.T) {
	dir := t.TempDir()
	set := handSet(t, dir)
	dep := dependencyOrder(set).files
	var rev []orderFile
	for i := len(dep) - 1; i >= 0; i-- {
		rev = append(rev, dep[i])
	}
	path := buildWay(t, dir, loadWay{name: "reverse", perFile: true, files: rev})
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows := func(q string) string {
		t.Helper()
		rs, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return strings.Join(out, "\n")
	}
	// June, by hand. 东湖小学 (S1) counts June's hours file (it names S1 by code); 西山中学
	// and 北塘小学 keep May's (June's file names no S2, and its T3 row names S9, on no list).
	// T1: 10 online + 20 practice. T2's masked ID fits only T2: 7. 王五's June mask shows
	// W1's last digits: W1 3 online, W2 none. T3: May's 6 (June's 8 at S9 count for no one).
	// T4: no hours. Points: T1 A1, T2 A2 (masked), T4 A1 (北塘小学, listed in June). Plans:
	// T1's in S1's 研修考核, T3's in S2's.
	got := rows(`SELECT concat_ws('|', name, school_code, hours_total, hours_online, hours_practice, abilities_passed, coalesce(plan_uploaded::VARCHAR, '-'))
		FROM teacher_progress ORDER BY name, id_masked`)
	want := strings.Join([]string{
		"T1|S1|30.00|10.00|20.00|1|true",
		"T2|S1|7.00|0.00|7.00|1|-",
		"T3|S2|6.00|6.00|0.00|0|true",
		"T4|S3|0.00|0.00|0.00|1|-",
		"王五|S1|3.00|3.00|0.00|0|-",
		"王五|S1|0.00|0.00|0.00|0|-",
	}, "\n")
	if got != want {
		t.Errorf("teacher_progress:\n%s\nwant\n%s", got, want)
	}
	// Every row that counts for no one, listed with its reason: 钱七 (May's file still counts
	// for 北塘小学) is on no roster; June's T3 row names S9; the 研修考核 of S1 has T4 (at
	// 北塘小学, not S1) and 查无此人, whose masks fit no one at S1; S7, given with --school,
	// is on no school list; the 研修考核 given as S2's names 东湖小学 on its T1 row.
	got = rows(`SELECT concat_ws('|', kind, file_name, row_no, coalesce(school_code, '-'), name, unmatched_reason) FROM unmatched_rows ORDER BY file_name, row_no`)
	want = strings.Join([]string{
		"hours|hours_2025-05-31.csv|5|S3|钱七|不在任何有效花名册中",
		"hours|hours_2025-06-30.csv|6|S9|T3|学校代码不在学校信息中",
		"progress|研修考核_S1_2025-06-30.csv|3|S1|T4|姓名与脱敏身份证号在花名册中无匹配",
		"progress|研修考核_S1_2025-06-30.csv|4|S1|查无此人|姓名与脱敏身份证号在花名册中无匹配",
		"progress|研修考核_S2_2025-06-30.csv|3|-|T1|学校与指定的学校代码S2不符",
		"progress|研修考核_S7_2025-06-30.csv|2|S7|T3|学校代码不在学校信息中",
	}, "\n")
	if got != want {
		t.Errorf("unmatched_rows:\n%s\nwant\n%s", got, want)
	}
	// May: May's hours file counts for 东湖小学; 王五's mask there shows only 360102, which both
	// 王五 fit; T2's mask fits T2 (5 practice hours).
	if got := rows(`SELECT concat_ws('|', matches, coalesce(teacher_key, '-')) FROM masked_ids WHERE month = '2025-05' AND name = '王五'`); got != "2|-" {
		t.Errorf("王五 in May: %s", got)
	}
	if got := rows(`SELECT hours_total::VARCHAR FROM teacher_progress_monthly WHERE month = '2025-05' AND name = 'T2'`); got != "5.00" {
		t.Errorf("T2 in May: %s", got)
	}
	// The data quality page counts each file's unmatched rows.
	if got := rows(`SELECT concat_ws('|', file_name, unmatched_rows) FROM data_quality WHERE unmatched_rows > 0 ORDER BY file_name`); got !=
		"hours_2025-05-31.csv|1\nhours_2025-06-30.csv|1\n研修考核_S1_2025-06-30.csv|2\n研修考核_S2_2025-06-30.csv|1\n研修考核_S7_2025-06-30.csv|1" {
		t.Errorf("data_quality:\n%s", got)
	}
}

// demoUnmatched: the generator plants one masked ID in each June 研修考核 file that fits no
// one on the roster (查无此人, 360201********0000), and A99 in each district's June
// assessments. Ingest used to refuse those rows; now they load, and refresh lists them, and
// counts them for no one.
func demoUnmatched(t *testing.T, path string) {
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, counted int
	err = db.QueryRow(`SELECT count(*) FROM unmatched_rows WHERE kind = 'progress' AND name = '查无此人'
		AND unmatched_reason = '姓名与脱敏身份证号在花名册中无匹配' AND file_name LIKE '研修考核_%_2025-06-30.xlsx'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM teacher_progress WHERE name = '查无此人'`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if n != 3 || counted != 0 {
		t.Errorf("查无此人 listed %d times (want 3, one per June 研修考核 file), counted for %d teachers", n, counted)
	}
	// A99, in no catalogue, once in each district's June assessments: listed, and in nobody's points.
	if err := db.QueryRow(`SELECT count(*) FROM unmatched_rows WHERE kind = 'assessments'
		AND unmatched_reason = '能力点「A99」不在「national」目录中'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM teacher_points WHERE ability_code = 'A99'`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if n != 3 || counted != 0 {
		t.Errorf("A99 listed %d times (want 3), counted %d times", n, counted)
	}
}

// TestAbilityPointsResolvedAtRefresh: which point an assessment names is read against the
// profile's catalogue at refresh, so a regional catalogue loaded after its assessments
// counts for them, and texts naming no point (or several) are listed, not counted.
func TestAbilityPointsResolvedAtRefresh(t *testing.T) {
	c := newCity(t)
	c.load("schools_2025-06-30.csv", schoolHeader, []string{"S1,东湖小学,东湖区", "S2,西山中学,西山区"}, ingest.Options{})
	c.load("roster_2025-06-30.csv", rosterHeader, []string{c.person("T1", "东湖小学") + ",是", c.person("T2", "东湖小学") + ",是", c.person("T3", "西山中学") + ",是"}, ingest.Options{})
	// (T3 is at another school: one school's assessments file of a date is the one that counts)
	a := func(name, point string) string {
		school := map[bool]string{true: "西山中学", false: "东湖小学"}[name == "T3"]
		return c.person(name, school) + "," + point + ",合格,2025-06-01,"
	}
	c.load("assess_2025-06-30.csv", assessHeader, []string{
		a("T1", "A1"), a("T1", "Ａ２"), a("T1", "A3 演示文稿设计与制作"), a("T1", "数字教育资源管理"), // A4 by name
		a("T2", "A99"), a("T2", "A1 数字教育资源管理"), a("T2", "没有的能力点"),
	}, ingest.Options{})
	// Guangdong's assessments before Guangdong's catalogue.
	c.load("gd_assess_2025-06-30.csv", assessHeader, []string{a("T3", "G4 基于数据分析的学情诊断"), a("T3", "重名能力点")}, ingest.Options{Catalogue: "guangdong"})
	c.load("guangdong.csv", "能力点编码,维度,能力点名称,环境,学分", []string{
		"G4,学情分析,基于数据分析的学情诊断,智慧学习环境,", "X1,教学设计,重名能力点,混合学习环境,", "X2,学法指导,重名能力点,混合学习环境,",
	}, ingest.Options{})

	unmatched := func() string {
		return c.one(`SELECT string_agg(name || ':' || unmatched_reason, ' / ' ORDER BY file_name, row_no) FROM unmatched_rows`)
	}
	c.refresh("national")
	if got := c.teacher("T1", "abilities_passed, abilities_passed_codes"); got != "4|A1,A2,A3,A4" {
		t.Errorf("T1 under national: %s", got)
	}
	if got := c.teacher("T2", "abilities_assessed"); got != "0" {
		t.Errorf("T2's points name nothing in the catalogue, yet %s count", got)
	}
	want := "T2:能力点「A99」不在「national」目录中 / T2:能力点「A1 数字教育资源管理」编号与名称不符：A1 是「技术支持的学情分析」 / T2:能力点「没有的能力点」不在「national」目录中"
	if got := unmatched(); got != want {
		t.Errorf("unmatched under national:\n%s\nwant\n%s", got, want)
	}
	c.refresh("guangdong")
	if got := c.teacher("T3", "abilities_assessed, abilities_passed_codes"); got != "1|G4" {
		t.Errorf("T3 under guangdong: %s", got)
	}
	if got := unmatched(); got != "T3:能力点「重名能力点」在目录中对应多个编号（X1、X2），请写明编号" {
		t.Errorf("unmatched under guangdong: %s", got)
	}
}
