package models

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
)

// city is a hand-built district whose every expected figure is worked out by hand below.
type city struct {
	t     *testing.T
	dir   string
	wh    *warehouse.Warehouse
	l     *ingest.Loader
	ctx   context.Context
	ids   map[string]string // teacher name -> full ID
	seq   int
	files []string
}

func newCity(t *testing.T) *city {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	wh, err := warehouse.Open(ctx, filepath.Join(dir, "w.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	l, err := ingest.NewLoader(ctx, wh, bytes.Repeat([]byte{9}, 32), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &city{t: t, dir: dir, wh: wh, l: l, ctx: ctx, ids: map[string]string{}}
}

func (c *city) id(name string) string {
	if id, ok := c.ids[name]; ok {
		return id
	}
	c.seq++
	id := ingest.CompleteID(fmt.Sprintf("36010219800101%03d", c.seq))
	c.ids[name] = id
	return id
}

// load writes a CSV (header + rows, cells joined by commas, {name} replaced by the ID) and
// loads it; it must load with no rejects.
func (c *city) load(file, header string, rows []string, opts ingest.Options) {
	c.t.Helper()
	var b strings.Builder
	b.WriteString(header + "\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	p := filepath.Join(c.dir, file)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		c.t.Fatal(err)
	}
	res := c.l.LoadFile(c.ctx, p, opts)
	if res.Status != ingest.StatusLoaded || res.Rejected != 0 {
		c.t.Fatalf("%s: %s %s %+v", file, res.Status, res.Error, res.Rejects)
	}
}

// person is "name,ID,school" for a row.
func (c *city) person(name, school string) string {
	return name + "," + c.id(name) + "," + school
}

func (c *city) refresh(profile string) Report {
	c.t.Helper()
	p, err := LoadProfile(profile)
	if err != nil {
		c.t.Fatal(err)
	}
	rep, err := Refresh(c.ctx, c.wh, p)
	if err != nil {
		c.t.Fatal(err)
	}
	return rep
}

func (c *city) one(q string, args ...any) string {
	c.t.Helper()
	var v sql.NullString
	if err := c.wh.DB.QueryRowContext(c.ctx, q, args...).Scan(&v); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
	if !v.Valid {
		return "NULL"
	}
	return v.String
}

// teacher returns columns of one teacher's teacher_progress row, joined by "|".
func (c *city) teacher(name, cols string) string {
	c.t.Helper()
	return c.one(`SELECT concat_ws('|', `+cols+`) FROM teacher_progress WHERE name = ?`, name)
}

const (
	schoolHeader = "学校代码,学校名称,所属区县"
	rosterHeader = "姓名,身份证号,学校名称,是否专任教师"
	hoursHeader  = "姓名,身份证号,学校名称,研修类型,活动名称,学时"
	assessHeader = "姓名,身份证号,学校名称,能力点,测评结果,测评日期,审核层级"
)

// build loads the district: schools, May and June rosters, hours, 研修考核, assessments.
func (c *city) build() {
	c.load("schools_2025-06-30.csv", schoolHeader, []string{
		"S1,东湖小学,东湖区", "S2,西山中学,西山区", "S3,南城幼儿园,东湖区", "G1,一中,西山区", "G2,二中,西山区",
	}, ingest.Options{})
	s1 := []string{"T1", "T2", "T3", "T3b", "T4", "T5", "T6", "T7", "T8", "T9"}
	var may, june []string
	for _, n := range s1 {
		may = append(may, c.person(n, "东湖小学")+",是")
		june = append(june, c.person(n, "东湖小学")+",是")
	}
	may = append(may, c.person("T11", "东湖小学")+",是")   // moves to 西山中学 in June
	june = append(june, c.person("T11", "西山中学")+",是") // the newest roster wins
	for _, n := range []string{"T10"} {
		may = append(may, c.person(n, "西山中学")+",是")
		june = append(june, c.person(n, "西山中学")+",是")
	}
	// 南城幼儿园 has no full-time teacher.
	for _, n := range []string{"P1", "P2"} {
		may = append(may, c.person(n, "南城幼儿园")+",否")
		june = append(june, c.person(n, "南城幼儿园")+",否")
	}
	// G1: 18 full-time teachers, 17 pass (94.4%); G2: 20 full-time, 19 pass (95.0%), plus one
	// part-time teacher who passes and must not count.
	for i := 1; i <= 18; i++ {
		june = append(june, c.person(fmt.Sprintf("G1-%02d", i), "一中")+",是")
	}
	for i := 1; i <= 20; i++ {
		june = append(june, c.person(fmt.Sprintf("G2-%02d", i), "二中")+",是")
	}
	june = append(june, c.person("G2-兼", "二中")+",否")
	c.load("roster_2025-05-31.csv", rosterHeader, may, ingest.Options{})
	c.load("roster_2025-06-30.csv", rosterHeader, june, ingest.Options{})

	h := func(name, school, label string, hours string) string {
		return c.person(name, school) + "," + label + ",活动," + hours
	}
	// May: everyone in 东湖小学 has only 10 online hours; 西山中学's T10 has 25 + 25.
	c.load("hours_2025-05-31.csv", hoursHeader, []string{
		h("T1", "东湖小学", "网络研修", "10"),
		h("T11", "东湖小学", "网络研修", "10"),
		h("T10", "西山中学", "网络研修", "25"), h("T10", "西山中学", "校本研修", "25"),
	}, ingest.Options{})
	// June: only 东湖小学 sends a file; 西山中学 stays on May's.
	c.load("hours_2025-06-30.csv", hoursHeader, []string{
		h("T1", "东湖小学", "网络研修", "25"), h("T1", "东湖小学", "校本研修", "25"),
		h("T2", "东湖小学", "网络研修", "24.5"), h("T2", "东湖小学", "校本研修", "25"),
		h("T3", "东湖小学", "网络研修", "30"), h("T3", "东湖小学", "校本研修", "25"),
		h("T3b", "东湖小学", "网络研修", "30"), h("T3b", "东湖小学", "校本研修", "24.5"),
		h("T4", "东湖小学", "网络研修", "25"), h("T4", "东湖小学", "校本实践", "15"), h("T4", "东湖小学", "研课磨课", "5"), h("T4", "东湖小学", "展示分享", "5"),
		h("T5", "东湖小学", "网络研修", "25"), h("T5", "东湖小学", "校本实践", "16"), h("T5", "东湖小学", "研课磨课", "4.5"), h("T5", "东湖小学", "展示分享", "5"),
		h("T6", "东湖小学", "网络研修", "25"), h("T6", "东湖小学", "教学研讨", "3"), h("T6", "东湖小学", "研修作业", "6"),
		h("T6", "东湖小学", "听课评课", "5"), h("T6", "东湖小学", "线下活动", "12"), h("T6", "东湖小学", "校本研修", "10"),
		h("T7", "东湖小学", "网络研修", "25"), h("T7", "东湖小学", "线下活动", "12"), h("T7", "东湖小学", "教学研讨", "2.5"), h("T7", "东湖小学", "校本研修", "12"),
		h("T8", "东湖小学", "网络研修", "20"), h("T8", "东湖小学", "校本研修", "30"),
		h("T11", "东湖小学", "网络研修", "20"), h("T11", "东湖小学", "校本研修", "30"),
		"路人," + c.id("路人") + ",东湖小学,网络研修,活动,2",
	}, ingest.Options{})
	// 研修考核 (东湖小学): T9 has no hours rows, so its 18 hours count; T1's 10 do not.
	m := func(n string) string { id := c.id(n); return id[:6] + "********" + id[14:] }
	c.load("progress_2025-06-30.csv", "序号,姓名,身份证号,个人提升计划,校本研修学时,个人提升总结", []string{
		"1,T1," + m("T1") + ",已上传,10/25,3/3",
		"2,T9," + m("T9") + ",已上传,18/25,1/3",
		"3,T6," + m("T6") + ",已上传,25/25,3/3",
		"4,T7," + m("T7") + ",未上传,25/25,3/3",
	}, ingest.Options{School: "S1"})

	a := func(name, school, point, result, date, level string) string {
		return c.person(name, school) + "," + point + "," + result + "," + date + "," + level
	}
	three := func(name, school string) []string { // A1 学情分析, A2 教学设计, A5 学法指导
		return []string{a(name, school, "A1", "合格", "2025-06-01", "校级初评"), a(name, school, "A2", "合格", "2025-06-01", "校级初评"), a(name, school, "A5", "优秀", "2025-06-01", "校级初评")}
	}
	var rows []string
	rows = append(rows, three("T1", "东湖小学")...)
	rows = append(rows, a("T2", "东湖小学", "A1", "合格", "2025-06-01", ""), a("T2", "东湖小学", "A2", "合格", "2025-06-01", ""))
	// T3: three points in two dimensions (A2, A3 教学设计; A5 学法指导)
	rows = append(rows, a("T3", "东湖小学", "A2", "合格", "2025-06-01", ""), a("T3", "东湖小学", "A3", "合格", "2025-06-01", ""), a("T3", "东湖小学", "A5", "合格", "2025-06-01", ""))
	// T4: failed A1 in May, passed on re-assessment in June
	rows = append(rows, a("T4", "东湖小学", "A1", "不合格", "2025-05-10", "校级初评"), a("T4", "东湖小学", "A1", "合格", "2025-06-10", "校级初评"),
		a("T4", "东湖小学", "A2", "合格", "2025-06-01", ""), a("T4", "东湖小学", "A5", "合格", "2025-06-01", ""))
	// T5: the same day, 校级 合格 but 县级 不合格: the higher level wins, A1 not passed
	rows = append(rows, a("T5", "东湖小学", "A1", "不合格", "2025-06-01", "县级复核"), a("T5", "东湖小学", "A1", "合格", "2025-06-01", "校级初评"),
		a("T5", "东湖小学", "A2", "合格", "2025-06-01", ""), a("T5", "东湖小学", "A5", "合格", "2025-06-01", ""))
	for i := 1; i <= 17; i++ {
		rows = append(rows, three(fmt.Sprintf("G1-%02d", i), "一中")...)
	}
	for i := 1; i <= 19; i++ {
		rows = append(rows, three(fmt.Sprintf("G2-%02d", i), "二中")...)
	}
	rows = append(rows, three("G2-兼", "二中")...)
	c.load("assess_2025-06-30.csv", assessHeader, rows, ingest.Options{})
}

func TestNationalRules(t *testing.T) {
	c := newCity(t)
	c.build()
	rep := c.refresh("national")
	if rep.Tests < 8 {
		t.Fatalf("only %d data tests ran", rep.Tests)
	}
	cols := "hours_total, hours_online, hours_practice, hours_met, abilities_passed, dimensions_passed, assessment_passed, complete"
	cases := []struct{ name, want string }{
		{"T1", "50.00|25.00|25.00|true|3|3|true|true"},     // exactly 50, practice exactly 25
		{"T2", "49.50|24.50|25.00|false|2|2|false|false"},  // 49.5: not met; 2 points
		{"T3", "55.00|30.00|25.00|true|3|2|false|false"},   // 3 points in 2 dimensions
		{"T3b", "54.50|30.00|24.50|false|0|0|false|false"}, // practice 24.5 < 25
		{"T4", "50.00|25.00|25.00|true|3|3|true|true"},     // re-assessed A1 counts
		{"T5", "50.50|25.00|25.50|true|2|2|false|false"},   // same-day tie: 县级 不合格 wins
		{"T8", "50.00|20.00|30.00|true|0|0|false|false"},   // no online minimum nationally
		{"T9", "18.00|0.00|18.00|false|0|0|false|false"},   // 研修考核 fallback: 18 hours
		{"T10", "50.00|25.00|25.00|true|0|0|false|false"},  // 西山中学 still on May's file
		{"T11", "50.00|20.00|30.00|true|0|0|false|false"},  // moved: hours follow the teacher
	}
	for _, tc := range cases {
		if got := c.teacher(tc.name, cols); got != tc.want {
			t.Errorf("%s: %s\n      want %s", tc.name, got, tc.want)
		}
	}
	// T6 under national: clipping applies only in Guangdong: 25 + 3+6+5+12+10 = 61
	if got := c.teacher("T6", "hours_total, hours_practice"); got != "61.00|36.00" {
		t.Errorf("T6 national: %s", got)
	}
	if got := c.teacher("T11", "school_code"); got != "S2" {
		t.Errorf("T11 is at %s, want S2 (the newer roster)", got)
	}
	if got := c.teacher("T9", "hours_from_progress, hours_school_practice"); got != "true|18.00" {
		t.Errorf("T9: %s", got)
	}
	if got := c.teacher("T1", "hours_from_progress, hours_school_practice"); got != "false|25.00" {
		t.Errorf("T1 must keep its hours rows, not the 研修考核 count: %s", got)
	}
	// The month before: 东湖小学's May file (T1: 10 online), T11 still at 东湖小学.
	if got := c.one(`SELECT concat_ws('|', hours_total, school_code) FROM teacher_progress_monthly WHERE month = '2025-05' AND name = 'T1'`); got != "10.00|S1" {
		t.Errorf("T1 in May: %s", got)
	}
	if got := c.one(`SELECT concat_ws('|', hours_total, school_code) FROM teacher_progress_monthly WHERE month = '2025-05' AND name = 'T11'`); got != "10.00|S1" {
		t.Errorf("T11 in May: %s", got)
	}

	// The gate, by hand: G1 17/18 = 94.4%, ceil(0.95 × 18) = ceil(17.1) = 18, shortfall 1;
	// G2 19/20 = 95.0% met, shortfall 0 (its part-time teacher does not count); S3 has no
	// full-time teacher: no gate result; S1: T1, T4 passed of 10 full-time: ceil(9.5) = 10, short 8.
	gate := func(code string) string {
		return c.one(`SELECT concat_ws('|', full_time_teachers, passed_full_time, coalesce(round(pass_rate, 4)::VARCHAR, 'NULL'), coalesce(gate_met::VARCHAR, 'NULL'), shortfall) FROM school_gate WHERE school_code = ?`, code)
	}
	for code, want := range map[string]string{
		"G1": "18|17|0.9444|false|1",
		"G2": "20|19|0.95|true|0",
		"S3": "0|0|NULL|NULL|0",
		"S1": "10|2|0.2|false|8",
	} {
		if got := gate(code); got != want {
			t.Errorf("gate %s: %s, want %s", code, got, want)
		}
	}
	// The stranger's hours row is kept and listed, not counted.
	if got := c.one(`SELECT count(*) FROM unmatched_rows WHERE name = '路人'`); got != "1" {
		t.Errorf("unmatched: %s", got)
	}
	if got := c.one(`SELECT count(*) FROM teacher_progress WHERE name = '路人'`); got != "0" {
		t.Errorf("a teacher on no roster was counted")
	}
	// District summary: 西山区 holds G1, G2, S2 (T10, T11): gate met at G2 only.
	if got := c.one(`SELECT concat_ws('|', schools, schools_gate_met, full_time_teachers, passed_full_time) FROM district_summary WHERE district = '西山区'`); got != "3|1|40|36" {
		t.Errorf("西山区: %s", got)
	}
	if got := c.one(`SELECT name FROM profile`); got != "national" {
		t.Errorf("profile recorded: %s", got)
	}
}

func TestXiamenSubMinimums(t *testing.T) {
	c := newCity(t)
	c.build()
	c.refresh("xiamen")
	for name, want := range map[string]string{
		"T4": "true|true",   // 15 + 5 + 5: exactly at every sub-minimum
		"T5": "false|false", // 研课磨课 4.5 < 5
		"T1": "false|false", // 25 校本研修, but no 研课磨课 or 展示分享
	} {
		if got := c.teacher(name, "hours_met, categories_met"); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

func TestBaojiRules(t *testing.T) {
	c := newCity(t)
	c.build()
	c.refresh("baoji")
	for name, want := range map[string]string{
		"T1": "true|true",   // online exactly 25
		"T8": "false|false", // online 20 < 25 (total 50 is not enough)
		"T2": "false|true",  // 49.5 hours; 2 points suffice in Baoji
		"T3": "true|true",   // 3 points in 2 dimensions: no dimension rule in Baoji
	} {
		if got := c.teacher(name, "hours_met, assessment_passed"); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

func TestGuangdongClippingCapAndPlan(t *testing.T) {
	c := newCity(t)
	c.build()
	c.load("guangdong.csv", "能力点编码,维度,能力点名称,环境", []string{
		"G1,学情分析,基于数据分析的学情诊断,智慧学习环境", "G2,教学设计,创造真实的学习情境,混合学习环境", "G3,学法指导,智慧教学的方法与环境,智慧学习环境",
	}, ingest.Options{Catalogue: "guangdong"})
	var rows []string
	for _, n := range []string{"T6", "T7"} {
		for _, p := range []string{"G1", "G2", "G3"} {
			rows = append(rows, c.person(n, "东湖小学")+","+p+",合格,2025-06-02,")
		}
	}
	c.load("gd_assess_2025-06-30.csv", assessHeader, rows, ingest.Options{Catalogue: "guangdong"})
	c.refresh("guangdong")
	// T6: 教学研讨 3→2, 研修作业 6→5, 听课评课 5, 线下活动 12→10, 校本研修 10: 32, capped at 25.
	// T7: 线下活动 12→10, 教学研讨 2.5→2, 校本研修 12: 24 < 25 (unclipped it would be 26.5).
	cols := "hours_practice_uncapped, hours_practice, hours_total, hours_met, assessment_passed, plan_met, complete"
	for name, want := range map[string]string{
		"T6": "32.00|25.00|50.00|true|true|true|true",
		"T7": "24.00|24.00|49.00|false|true|false|false", // and its plan is not uploaded
		"T1": "25.00|25.00|50.00|true|false|true|false",  // no Guangdong points
	} {
		if got := c.teacher(name, cols); got != want {
			t.Errorf("%s: %s\n      want %s", name, got, want)
		}
	}
}

func TestProfileRecordedAndKept(t *testing.T) {
	c := newCity(t)
	c.build()
	c.refresh("baoji")
	p, err := CurrentProfile(c.ctx, c.wh.DB)
	if err != nil || p.Name != "baoji" || p.OnlineHoursMin != 2500 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestFailingDataTestChangesNothing(t *testing.T) {
	c := newCity(t)
	c.build()
	c.refresh("national")
	before := c.one(`SELECT count(*) FROM teacher_progress`)
	// Corrupt a catalogue so that a passed point is no longer in it: reload a national
	// catalogue without A5. The refresh must fail on passed_points_in_catalogue and keep
	// the previous tables. Points are matched to the catalogue at refresh, so only rows
	// loaded before that (migration 006), which carry their code, can fall out of it: make
	// the assessments such rows (their texts are bare codes).
	if _, err := c.wh.DB.Exec(`UPDATE raw_assessments SET ability_code = ability_given, ability_given = NULL`); err != nil {
		t.Fatal(err)
	}
	c.load("national_v2.csv", "code,dimension,name,environment,credits", []string{
		"A1,学情分析,技术支持的学情分析,多媒体教学环境,4", "A2,教学设计,数字教育资源获取与评价,多媒体教学环境,4",
	}, ingest.Options{Catalogue: "national"})
	p, _ := LoadProfile("xiamen")
	_, err := Refresh(c.ctx, c.wh, p)
	var te *TestError
	if !errors.As(err, &te) || te.Failures[0].Test != "passed_points_in_catalogue" || !strings.Contains(err.Error(), "ability_code=A5") {
		t.Fatalf("err = %v", err)
	}
	if got := c.one(`SELECT count(*) FROM teacher_progress`); got != before {
		t.Fatalf("teacher_progress changed: %s -> %s", before, got)
	}
	if got := c.one(`SELECT name FROM profile`); got != "national" {
		t.Fatalf("profile changed to %s by a failed refresh", got)
	}
	if got := c.one(`SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\_\_next\_%' ESCAPE '\'`); got != "0" {
		t.Fatalf("%s staging tables left behind", got)
	}
	// Staging tables a killed refresh left are cleared by the next one, which then succeeds.
	if _, err := c.wh.DB.Exec(`CREATE TABLE __next_teacher_progress AS SELECT 1 AS junk`); err != nil {
		t.Fatal(err)
	}
	c.load("national_v3.csv", "code,dimension,name,environment,credits", []string{
		"A1,学情分析,技术支持的学情分析,多媒体教学环境,4", "A2,教学设计,数字教育资源获取与评价,多媒体教学环境,4",
		"A3,教学设计,演示文稿设计与制作,多媒体教学环境,4", "A5,学法指导,技术支持的课堂导入,多媒体教学环境,5",
	}, ingest.Options{Catalogue: "national"})
	c.refresh("xiamen")
	if got := c.one(`SELECT name FROM profile`); got != "xiamen" {
		t.Fatalf("profile after a good refresh: %s", got)
	}
	if got := c.one(`SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\_\_next\_%' ESCAPE '\'`); got != "0" {
		t.Fatalf("%s staging tables after a good refresh", got)
	}
}

func TestProfileFiles(t *testing.T) {
	for _, n := range BuiltinProfiles() {
		if _, err := LoadProfile(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	base, _ := profileFS.ReadFile("profiles/national.json")
	cases := map[string]struct{ from, to, want string }{
		"unknown field":    {`"gate_percent": 95`, `"gate_percent": 95, "gate_pct": 95`, `unknown field "gate_pct"`},
		"negative hour":    {`"online_hours_min": 0`, `"online_hours_min": -5`, `"online_hours_min" is negative`},
		"share over 100%":  {`"gate_percent": 95`, `"gate_percent": 101`, `"gate_percent" is 101`},
		"unknown category": {`"category_hours_min": {}`, `"category_hours_min": {"yoga": 5}`, `unknown hour category "yoga"`},
		"three decimals":   {`"total_hours_min": 50`, `"total_hours_min": 50.125`, `at most two decimals`},
		"missing field":    {`"gate_counts": "assessment"`, `"gate_counts": "assessment", "x": 1`, `unknown field "x"`},
		"cap below min":    {`"practice_hours_cap": null`, `"practice_hours_cap": 20`, `below "practice_hours_min"`},
		"dims over points": {`"dimensions_min": 3`, `"dimensions_min": 4`, `"dimensions_min" (4)`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := strings.Replace(string(base), tc.from, tc.to, 1)
			_, err := ParseProfile([]byte(b), "my.json")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "my.json") {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
		})
	}
	_, err := ParseProfile([]byte(strings.Replace(string(base), `"label": "全国基本要求",`, "", 1)), "x.json")
	if err == nil || !strings.Contains(err.Error(), `"label" is missing`) {
		t.Fatalf("missing field: %v", err)
	}
	p, err := ParseProfile([]byte(strings.Replace(string(base), `"total_hours_min": 50`, `"total_hours_min": 49.5`, 1)), "x.json")
	if err != nil || p.TotalHoursMin != 4950 {
		t.Fatalf("49.5 = %d, %v", p.TotalHoursMin, err)
	}
}

func TestModelsOrderedByDependency(t *testing.T) {
	ms := builtin(t).Models
	pos := map[string]int{}
	for i, m := range ms {
		pos[m.Name] = i
	}
	for _, m := range ms {
		for _, d := range m.Deps {
			if _, model := pos[d]; model && pos[d] >= pos[m.Name] {
				t.Errorf("%s runs before its dependency %s", m.Name, d)
			}
		}
	}
	if pos["teacher_progress"] < pos["teacher_progress_monthly"] || len(ms) < 20 {
		t.Fatalf("order: %v", ms)
	}
}
