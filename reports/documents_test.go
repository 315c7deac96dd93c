package reports

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"tisheng/internal/docx"
	"tisheng/internal/scoped"
	"tisheng/internal/testkit"
	"tisheng/internal/testkit/office"
	"tisheng/internal/warehouse"
	"tisheng/models"
	"tisheng/queries"
)

var docDate = time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)

// readDoc writes a document, checks the package as Word requires it and reads it back.
func readDoc(t *testing.T, wb *Workbook) (*docx.Doc, []byte) {
	t.Helper()
	wb.Date = docDate
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := docx.Check(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	d, err := docx.Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return d, buf.Bytes()
}

// scopedReports are the reports over a district's own database, as the server and the
// command line write a district's documents.
func scopedReports(t *testing.T, db *sql.DB, district string) *Reports {
	t.Helper()
	cat, err := models.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	d, err := scoped.Build(context.Background(), db, cat, scoped.Key{District: district}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	r, err := queries.NewRunner(d.DB)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// rate is a share of two counts as every view shows it.
func rate(a, b int64) string { return queries.FormatRate(queries.RoundRate(float64(a) / float64(b))) }

func ints(t *testing.T, db *sql.DB, q string, args ...any) []int64 {
	t.Helper()
	row := db.QueryRow(q, args...)
	var vals [8]sql.NullInt64
	ptrs := []any{}
	cols := strings.Count(strings.SplitN(q, " FROM ", 2)[0], ",") + 1
	for i := 0; i < cols; i++ {
		ptrs = append(ptrs, &vals[i])
	}
	if err := row.Scan(ptrs...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := make([]int64, cols)
	for i := range out {
		out[i] = vals[i].Int64
	}
	return out
}

// section is the paragraphs between a heading and the next heading of the same level.
func section(d *docx.Doc, heading string) []docx.Block {
	var out []docx.Block
	in := false
	for _, b := range d.Blocks {
		if b.Kind == docx.Paragraph && b.Style == docx.StyleHeading1 {
			if in {
				break
			}
			in = b.Text == heading
			continue
		}
		if in {
			out = append(out, b)
		}
	}
	return out
}

func sectionText(d *docx.Doc, heading string) string {
	var sb strings.Builder
	for _, b := range section(d, heading) {
		if b.Kind == docx.Paragraph {
			sb.WriteString(b.Text + "\n")
		}
	}
	return sb.String()
}

// The named queries the document is written from give, at the latest month, what the
// annual models (and so the 年报 workbook) give: for all districts and for a district's own
// database.
func TestAnnualQueriesEqualModels(t *testing.T) {
	rp, db := demoReports(t)
	ctx := context.Background()
	month := one(t, db, `SELECT max(month) FROM months`)
	check := func(t *testing.T, rp *Reports, district string) {
		p := queries.Params{Month: month, District: district}
		ov, err := rp.r.Named(ctx, "annual_overview", p, 0)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := rp.r.SQL(ctx, `SELECT * FROM annual_summary`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, c := range sum.Columns {
			if j := colIndex(ov, c.Name); j >= 0 {
				n++
				if fmt.Sprint(ov.Rows[0][j]) != fmt.Sprint(sum.Rows[0][i]) {
					t.Errorf("%s: annual_overview %v, annual_summary %v", c.Name, ov.Rows[0][j], sum.Rows[0][i])
				}
			}
		}
		if n < 16 {
			t.Errorf("only %d columns compared", n)
		}
		groups, err := rp.r.Named(ctx, "annual_groups", p, 0)
		if err != nil {
			t.Fatal(err)
		}
		model, err := rp.r.SQL(ctx, `SELECT * FROM annual_by_group ORDER BY group_by, group_value`)
		if err != nil {
			t.Fatal(err)
		}
		key := func(res *queries.Result) []string {
			var out []string
			for _, r := range res.Rows {
				out = append(out, fmt.Sprint(r))
			}
			sort.Strings(out)
			return out
		}
		if a, b := key(groups), key(model); strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) == 0 {
			t.Errorf("annual_groups and annual_by_group differ:\n%v\n%v", a, b)
		}
		choices, err := rp.r.Named(ctx, "annual_choices", p, 0)
		if err != nil {
			t.Fatal(err)
		}
		scope := `scope = 'all'`
		if district != "" {
			scope = `scope = 'district' AND scope_code = '` + district + `'`
		}
		mc, err := rp.r.SQL(ctx, `SELECT "by", code, ability_name, dimension, environment, teachers_chose, teachers_passed, teachers_excellent, pass_rate FROM ability_choices WHERE `+scope)
		if err != nil {
			t.Fatal(err)
		}
		var chosen [][]any
		for _, r := range choices.Rows {
			if r[colIndex(choices, "teachers_chose")].(int64) > 0 {
				chosen = append(chosen, r)
			}
		}
		if a, b := key(&queries.Result{Rows: chosen}), key(mc); strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) == 0 {
			t.Errorf("annual_choices and ability_choices differ:\n%v\n%v", a, b)
		}
		// every point of the catalogue is listed, chosen or not
		if got, want := fmt.Sprint(len(choices.Rows)-len(chosen)+len(chosen)), one(t, db, `SELECT count(DISTINCT code) + count(DISTINCT dimension) + count(DISTINCT environment) FROM profile_catalogue`); got != want {
			t.Errorf("annual_choices has %s rows, the catalogue %s", got, want)
		}
	}
	t.Run("all", func(t *testing.T) { check(t, rp, "") })
	t.Run("东湖区", func(t *testing.T) { check(t, scopedReports(t, db, "东湖区"), "东湖区") })
}

// The annual report read back: its headline sentences hold the figures counted here
// directly from the teachers' and schools' rows, its tables and charts those of the 年报's
// models, and what only the office knows is left as prompts.
func TestAnnualDocFigures(t *testing.T) {
	rp, db := demoReports(t)
	ctx := context.Background()
	wb, err := rp.AnnualDoc(ctx, "", queries.Params{})
	if err != nil {
		t.Fatal(err)
	}
	wb.Unit = "某市教育局提升工程2.0项目办公室"
	d, data := readDoc(t, wb)
	if wb.FileName != "2025年度_全部区县_提升工程2.0实施情况报告.docx" {
		t.Errorf("file name %s", wb.FileName)
	}
	var h1 []string
	for _, p := range d.Paragraphs(docx.StyleHeading1) {
		h1 = append(h1, p)
	}
	if strings.Join(h1, "|") != "一、基本情况|二、主要做法|三、取得成效|四、存在问题|五、下一步工作|附表" {
		t.Errorf("headings %v", h1)
	}
	if title := d.Paragraphs(docx.StyleTitle); len(title) != 1 || !strings.Contains(title[0], "2025年度") || !strings.Contains(title[0], "实施情况报告") {
		t.Errorf("title %q", title)
	}
	text := d.Text()
	c := ints(t, db, `SELECT count(*), count(*) FILTER (WHERE is_full_time), count(*) FILTER (WHERE hours_total > 0), count(*) FILTER (WHERE complete),
		count(*) FILTER (WHERE assessment_passed), count(*) FILTER (WHERE abilities_excellent > 0), count(*) FILTER (WHERE dimensions_passed >= 3) FROM teacher_progress`)
	teachers, fullTime, part, done, passed, excellent, dims3 := c[0], c[1], c[2], c[3], c[4], c[5], c[6]
	g := ints(t, db, `SELECT count(*), count(*) FILTER (WHERE gate_met), count(*) FILTER (WHERE full_time_teachers > 0), count(*) FILTER (WHERE gate_met = false), sum(shortfall) FILTER (WHERE gate_met = false) FROM school_gate`)
	online := one(t, db, `SELECT avg(hours_online)::DECIMAL(12,2)::VARCHAR FROM teacher_progress`)
	practice := one(t, db, `SELECT avg(hours_practice)::DECIMAL(12,2)::VARCHAR FROM teacher_progress`)
	for _, want := range []string{
		fmt.Sprintf("3个区县共有%d所学校纳入统计，名单内教师%d人，其中专任教师%d人。", g[0], teachers, fullTime),
		fmt.Sprintf("共有%d名教师参加研修（有学时记录），参训率%s。教师人均网络研修%s学时、人均实践应用%s学时。", part, rate(part, teachers), online, practice),
		fmt.Sprintf("完成培训（学时达标且能力点测评合格）的教师%d人，完成率%s；能力点测评合格%d人，合格率%s；其中有能力点获评优秀的教师%d人，优秀率%s。",
			done, rate(done, teachers), passed, rate(passed, teachers), excellent, rate(excellent, teachers)),
		fmt.Sprintf("通过的能力点覆盖3个及以上维度的教师%d人，占%s。", dims3, rate(dims3, teachers)),
		fmt.Sprintf("有专任教师的%d所学校中，%d所学校的专任教师合格率达到95%%", g[2], g[1]),
		fmt.Sprintf("有专任教师的%d所学校中还有%d所未达到95%%门槛，合计还差%d名专任教师通过测评", g[2], g[3], g[4]),
		"某市教育局提升工程2.0项目办公室", "2025年7月1日",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	// The month completion rose most, worked here from the monthly model.
	var months []string
	var rates []float64
	rs, err := db.Query(`SELECT month, completion_rate FROM monthly_progress WHERE scope = 'all' ORDER BY month`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var m string
		var r float64
		rs.Scan(&m, &r)
		months, rates = append(months, m), append(rates, r)
	}
	rs.Close()
	best, rise := 0, -1.0
	for i := 1; i < len(rates); i++ {
		if r := math.Round(queries.RoundRate(rates[i])*1000) - math.Round(queries.RoundRate(rates[i-1])*1000); r > rise {
			best, rise = i, r
		}
	}
	want := fmt.Sprintf("完成率提高最多的是%s，比%s提高%.1f个百分点", monthLabel(months[best]), monthLabel(months[best-1]), rise/10)
	if !strings.Contains(text, want) {
		t.Errorf("the report lacks %q", want)
	}
	// and by district, each from its own months
	var dparts []string
	drows, err := db.Query(`SELECT scope_code, list(completion_rate ORDER BY month), list(month ORDER BY month) FROM monthly_progress WHERE scope = 'district' GROUP BY scope_code ORDER BY scope_code`)
	if err != nil {
		t.Fatal(err)
	}
	for drows.Next() {
		var dist string
		var rs, ms []any
		if err := drows.Scan(&dist, &rs, &ms); err != nil {
			t.Fatal(err)
		}
		best, rise := 0, 0.0
		for i := 1; i < len(rs); i++ {
			a, b := rs[i].(float64), rs[i-1].(float64)
			if r := math.Round(queries.RoundRate(a)*1000) - math.Round(queries.RoundRate(b)*1000); r > rise {
				best, rise = i, r
			}
		}
		if best == 0 {
			dparts = append(dparts, dist+"没有提高的月份")
			continue
		}
		dparts = append(dparts, fmt.Sprintf("%s在%s（提高%.1f个百分点）", dist, monthLabel(ms[best].(string)), rise/10))
	}
	drows.Close()
	if want := "分区县看，完成率提高最多的月份：" + strings.Join(dparts, "，") + "。"; !strings.Contains(text, want) {
		t.Errorf("the report lacks %q", want)
	}
	// 主要做法 and 下一步工作 are the office's: prompts under headings, no sentence of ours.
	for _, h := range []string{"二、主要做法", "五、下一步工作"} {
		prompts := 0
		for _, b := range section(d, h) {
			switch {
			case b.Kind != docx.Paragraph:
				t.Errorf("%s: a table or chart", h)
			case b.Style == docx.StylePrompt:
				prompts++
				if !strings.Contains(b.Text, "【请填写】") {
					t.Errorf("%s: prompt %q not marked", h, b.Text)
				}
			case b.Style == docx.StyleHeading2, b.Style == docx.StyleClosing, b.Text == "":
			default:
				t.Errorf("%s: written for the office: %q (%s)", h, b.Text, b.Style)
			}
		}
		if prompts < 4 {
			t.Errorf("%s: %d prompts", h, prompts)
		}
	}
	// 存在问题 names the stale district and the people on hours rows but no roster, as the
	// data quality models count them.
	problems := sectionText(d, "四、存在问题")
	stale := one(t, db, `SELECT count(DISTINCT e.school_code) FROM effective_batches e WHERE e.month = (SELECT max(month) FROM months) AND e.kind <> 'schools' AND e.as_of < CAST(e.month || '-01' AS DATE)`)
	if !strings.Contains(problems, stale+"所学校2025年6月的数据来自更早月份的导出文件") || !strings.Contains(problems, "南城区") {
		t.Errorf("存在问题 does not name the %s stale schools:\n%s", stale, problems)
	}
	u := ints(t, db, `SELECT count(DISTINCT teacher_key), count(*) FROM unmatched_rows WHERE kind = 'hours' AND unmatched_reason = '不在任何有效花名册中'`)
	if u[0] > 0 && !strings.Contains(problems, fmt.Sprintf("有%d人在2025年6月的学时文件中有学时记录（共%d行），但不在任何有效的教师名单中", u[0], u[1])) {
		t.Errorf("存在问题 does not say the %d people (%d rows) on no roster:\n%s", u[0], u[1], problems)
	}

	// 附表: real tables with a repeating header; 附表1 by district holds the 年报's figures.
	tables := d.Tables()
	if len(tables) != 8 {
		t.Fatalf("%d tables", len(tables))
	}
	for i, tb := range tables {
		if tb.HeaderRows != 1 || len(tb.Rows) < 2 {
			t.Errorf("附表%d: %d header rows, %d rows", i+1, tb.HeaderRows, len(tb.Rows))
		}
	}
	byDistrict := map[string][]string{}
	for _, r := range tables[0].Rows[1:] {
		byDistrict[r[0]] = r
	}
	drs, err := db.Query(`SELECT district, count(*), count(*) FILTER (WHERE hours_total > 0), count(*) FILTER (WHERE complete), count(*) FILTER (WHERE assessment_passed), count(*) FILTER (WHERE abilities_excellent > 0) FROM teacher_progress GROUP BY district`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for drs.Next() {
		var dist string
		var tt, pa, co, ps, ex int64
		drs.Scan(&dist, &tt, &pa, &co, &ps, &ex)
		n++
		want := []string{fmt.Sprint(tt), rate(pa, tt), rate(co, tt), rate(ps, tt), rate(ex, tt)}
		got := byDistrict[dist]
		if len(got) < 8 || strings.Join(got[3:8], "|") != strings.Join(want, "|") {
			t.Errorf("附表1 %s: %v, want %v", dist, got, want)
		}
	}
	drs.Close()
	if n != len(tables[0].Rows)-1 {
		t.Errorf("附表1 has %d districts, the data %d", len(tables[0].Rows)-1, n)
	}
	// 附表2: every school, those behind the gate first, as 学校进度 lists them.
	if got := fmt.Sprint(len(tables[1].Rows) - 1); got != one(t, db, `SELECT count(*) FROM school_gate`) {
		t.Errorf("附表2 has %s schools", got)
	}
	seenMet := false
	for _, r := range tables[1].Rows[1:] {
		switch r[6] {
		case "达标":
			seenMet = true
		case "未达标":
			if seenMet {
				t.Errorf("附表2: %s behind the gate after a school that met it", r[0])
			}
		}
	}
	// Charts: rates by district and the year's months, their values the models'.
	charts := d.Charts()
	if len(charts) != 2 {
		t.Fatalf("%d charts", len(charts))
	}
	var monthly, districts *docx.ChartData
	for _, ch := range charts {
		switch ch.Kind {
		case "lineChart":
			monthly = ch
		case "barChart":
			districts = ch
		}
	}
	if monthly == nil || districts == nil || monthly.Workbook == "" || districts.Workbook == "" {
		t.Fatalf("charts %+v %+v", monthly, districts)
	}
	for i, cat := range districts.Categories {
		for _, s := range districts.Series {
			col := map[string]string{"参训率": "participation_rate", "完成率": "completion_rate", "合格率": "pass_rate"}[s.Name]
			want := one(t, db, `SELECT `+col+` FROM annual_by_group WHERE group_by = 'district' AND group_value = ?`, cat)
			f, _ := strconv.ParseFloat(want, 64)
			if s.Values[i] != queries.RoundRate(f) {
				t.Errorf("chart %s %s: %v, model %v", cat, s.Name, s.Values[i], f)
			}
		}
	}
	if strings.Join(monthly.Categories, ",") != "2025年5月,2025年6月" {
		t.Errorf("monthly chart months %v", monthly.Categories)
	}
	for i := range monthly.Categories {
		if done := monthly.Series[2]; done.Values[i] != queries.RoundRate(rates[i]) {
			t.Errorf("monthly chart %s 完成率 %v, model %v", months[i], done.Values[i], rates[i])
		}
	}
	// The navigation pane: headings carry outline levels in their styles.
	parts, _ := docx.Open(data)
	if !strings.Contains(string(parts["word/styles.xml"]), `<w:outlineLvl w:val="1"/>`) {
		t.Errorf("no outline levels")
	}
	checkNoEnglish(t, d)
}

// checkNoEnglish: a document is Chinese; codes (hours, district) never reach the reader.
func checkNoEnglish(t *testing.T, d *docx.Doc) {
	t.Helper()
	for _, line := range strings.Split(d.Text(), "\n") {
		for _, cell := range strings.Split(line, "|") {
			if englishSentence(cell) || len(reASCIIWord.FindAllString(cell, -1)) >= 4 {
				t.Errorf("English in %q", cell)
			}
		}
	}
}

// A year without data gives a document that says so, without tables or charts.
func TestAnnualDocYearWithoutData(t *testing.T) {
	rp, _ := demoReports(t)
	wb, err := rp.AnnualDoc(context.Background(), "2023", queries.Params{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := readDoc(t, wb)
	if len(d.Tables())+len(d.Charts()) != 0 {
		t.Errorf("%d tables, %d charts", len(d.Tables()), len(d.Charts()))
	}
	if text := d.Text(); !strings.Contains(text, "2023年没有任何数据：仓库中的数据从2025年5月到2025年6月") {
		t.Errorf("does not say the year is empty:\n%s", text)
	}
	for _, bad := range []string{"20x5", "abcd", "1899", "25"} {
		if _, err := rp.AnnualDoc(context.Background(), bad, queries.Params{}); err == nil {
			t.Errorf("year %q accepted", bad)
		}
	}
}

// A school's diagnosis: each figure beside the district average counted here from the
// schools' rows, marked by the stated rule, S and W written from the marks, O and T left
// to the school.
func TestSchoolSWOTDoc(t *testing.T) {
	rp, db := demoReports(t)
	ctx := context.Background()
	school := one(t, db, `SELECT school_code FROM school_gate WHERE gate_met = false ORDER BY shortfall DESC, school_code LIMIT 1`)
	district := one(t, db, `SELECT district FROM school_gate WHERE school_code = ?`, school)
	wb, err := rp.SchoolSWOT(ctx, queries.Params{School: school})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := readDoc(t, wb)
	text := d.Text()
	if !strings.Contains(text, "10%及以上为“优势”") || !strings.Contains(text, "低10%及以上为“劣势”") {
		t.Errorf("the rule is not stated")
	}
	tables := d.Tables()
	if len(tables) != 1 {
		t.Fatalf("%d tables", len(tables))
	}
	rowsBy := map[string][]string{}
	for _, r := range tables[0].Rows[1:] {
		rowsBy[r[1]] = r
	}
	// 学时达标率 and 专任教师合格率 by hand: the school's share, the plain mean of the
	// district's schools' shares.
	for _, c := range []struct{ label, school, avg string }{
		{"学时达标率", `SELECT hours_met / teachers FROM school_gate WHERE school_code = ?`, `SELECT avg(hours_met / teachers) FROM school_gate WHERE district = ? AND teachers > 0`},
		{"专任教师合格率（95%门槛）", `SELECT passed_full_time / full_time_teachers FROM school_gate WHERE school_code = ?`, `SELECT avg(passed_full_time / full_time_teachers) FROM school_gate WHERE district = ? AND full_time_teachers > 0`},
		{"能力点测评合格率", `SELECT assessment_passed / teachers FROM school_gate WHERE school_code = ?`, `SELECT avg(assessment_passed / teachers) FROM school_gate WHERE district = ? AND teachers > 0`},
	} {
		v, _ := strconv.ParseFloat(one(t, db, c.school, school), 64)
		a, _ := strconv.ParseFloat(one(t, db, c.avg, district), 64)
		sv, sa := queries.RoundRate(v), queries.RoundRate(a)
		mark := "持平"
		if (sv-sa)/sa >= 0.0995 {
			mark = "优势"
		} else if (sv-sa)/sa <= -0.0995 {
			mark = "劣势"
		}
		want := []string{queries.FormatRate(v), queries.FormatRate(a), mark}
		got := rowsBy[c.label]
		if len(got) < 6 || strings.Join([]string{got[2], got[3], got[5]}, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %v, want %v", c.label, got, want)
		}
	}
	// S lists exactly the 优势 rows, W the 劣势 rows (the gate's said once, with the
	// shortfall), each group's figures in one sentence.
	strengths, weaknesses := sectionText(d, "三、优势（S）"), sectionText(d, "四、劣势（W）")
	for label, r := range rowsBy {
		inS, inW := strings.Contains(strengths, label+r[2]), strings.Contains(weaknesses, label+r[2])
		base, detail, _ := strings.Cut(label, "：")
		if detail != "" { // per-dimension figures share their label in a sentence
			inS = inS || strings.Contains(strengths, base) && strings.Contains(strengths, detail+r[2])
			inW = inW || strings.Contains(weaknesses, base) && strings.Contains(weaknesses, detail+r[2])
		}
		switch r[5] {
		case "优势":
			if !inS || inW {
				t.Errorf("%s (优势): in S %v, in W %v", label, inS, inW)
			}
		case "劣势":
			if label != "专任教师合格率（95%门槛）" && (!inW || inS) {
				t.Errorf("%s (劣势): in S %v, in W %v", label, inS, inW)
			}
		default:
			if inS || inW {
				t.Errorf("%s (%s) written as a strength or weakness", label, r[5])
			}
		}
	}
	if short := one(t, db, `SELECT shortfall FROM school_gate WHERE school_code = ?`, school); !strings.Contains(weaknesses, "尚未达到95%门槛，还差"+short+"人") {
		t.Errorf("W does not say the shortfall %s:\n%s", short, weaknesses)
	}
	gaps, err := db.Query(`SELECT name FROM swot_gaps WHERE school_code = ?`, school)
	if err != nil {
		t.Fatal(err)
	}
	for gaps.Next() {
		var g string
		gaps.Scan(&g)
		if !strings.Contains(weaknesses, "“"+g+"”") {
			t.Errorf("W does not name %s, which nobody covers", g)
		}
	}
	gaps.Close()
	ot := section(d, "五、机会（O）与威胁（T）")
	prompts := 0
	for _, b := range ot {
		if b.Style == docx.StylePrompt && strings.Contains(b.Text, "【请学校填写】") {
			prompts++
		}
	}
	if prompts != 2 {
		t.Errorf("O and T: %d prompts", prompts)
	}
	checkNoEnglish(t, d)
	// Nobody's diagnosis for a school that does not exist.
	if _, err := rp.SchoolSWOT(ctx, queries.Params{School: "3699999999"}); err == nil {
		t.Errorf("a diagnosis of a school that does not exist")
	}
}

// The edge cases, on the demo with 南城区's rosters and 西山区's assessments taken back: a
// school with no roster, a district with no school at the gate, a district with no
// teachers. Each gives a document that says so, never an empty table or an error.
func TestDocumentsWithMissingData(t *testing.T) {
	ctx := context.Background()
	wh, _ := testkit.Demo(t, "../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{})
	bs, err := wh.Batches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, b := range bs {
		if strings.HasPrefix(b.FileName, "南城区_教师名单") || strings.HasPrefix(b.FileName, "西山区_能力点测评") {
			ids = append(ids, b.ID)
		}
	}
	if len(ids) != 4 {
		t.Fatalf("batches %v", ids)
	}
	if _, err := wh.RemoveBatches(ctx, "test", ids); err != nil {
		t.Fatal(err)
	}
	p, _ := models.LoadProfile("national")
	if _, err := models.Refresh(ctx, wh, p); err != nil {
		t.Fatal(err)
	}
	r, _ := queries.NewRunner(wh.DB)
	rp, _ := New(r)

	t.Run("school without roster", func(t *testing.T) {
		school := one(t, wh.DB, `SELECT min(school_code) FROM school_info WHERE district = '南城区'`)
		wb, err := rp.SchoolSWOT(ctx, queries.Params{School: school})
		if err != nil {
			t.Fatal(err)
		}
		d, data := readDoc(t, wb)
		text := d.Text()
		if !strings.Contains(text, "本校还没有导入教师名单，教师结构、研修进度和能力点测评都无法诊断") {
			t.Errorf("does not say the roster is missing:\n%s", text)
		}
		for _, r := range d.Tables()[0].Rows[1:] {
			if r[0] != "信息化环境" && r[0] != "" && r[2] != "—" {
				t.Errorf("%s: %s without a roster", r[1], r[2])
			}
		}
		if strings.Contains(text, "还没有教师通过") {
			t.Errorf("gaps reported for a school without teachers")
		}
		pdfPages(t, data, "swot-no-roster", 2)
	})
	t.Run("district without teachers", func(t *testing.T) {
		wb, err := scopedReports(t, wh.DB, "南城区").AnnualDoc(ctx, "", queries.Params{District: "南城区"})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := readDoc(t, wb)
		text := d.Text()
		for _, want := range []string{"还没有导入任何教师名单，因此没有教师可以统计", "本年度还没有教师数据，不附表。"} {
			if !strings.Contains(text, want) {
				t.Errorf("lacks %q:\n%s", want, text)
			}
		}
		if len(d.Tables()) != 0 {
			t.Errorf("%d tables", len(d.Tables()))
		}
		if strings.Contains(text, "东湖区") || strings.Contains(text, "西山区") {
			t.Errorf("another district in 南城区's report")
		}
	})
	t.Run("district with no school at the gate", func(t *testing.T) {
		wb, err := scopedReports(t, wh.DB, "西山区").AnnualDoc(ctx, "", queries.Params{District: "西山区"})
		if err != nil {
			t.Fatal(err)
		}
		d, data := readDoc(t, wb)
		text := d.Text()
		n := one(t, wh.DB, `SELECT count(*) FROM school_gate WHERE district = '西山区' AND full_time_teachers > 0`)
		if !strings.Contains(text, "有专任教师的"+n+"所学校中，还没有一所学校的专任教师合格率达到95%") {
			t.Errorf("does not say no school is at the gate:\n%s", sectionText(d, "三、取得成效"))
		}
		if !strings.Contains(text, "本年度还没有教师提交能力点测评结果。") {
			t.Errorf("does not say nobody was assessed")
		}
		for i, tb := range d.Tables() {
			if len(tb.Rows) < 2 {
				t.Errorf("附表%d is empty", i+1)
			}
		}
		// one 学段 only: the rates are compared by school
		if ch := d.Charts(); len(ch) != 2 || len(ch[1].Categories) < 2 {
			t.Errorf("charts %d", len(ch))
		}
		pdfPages(t, data, "annual-no-gate", 0)
	})
}

// pdfPages converts a document with LibreOffice, checks its pages (at most max, when max
// > 0) and the page numbers, and keeps screenshots of them under screenshots/.
func pdfPages(t *testing.T, data []byte, name string, max int) int {
	t.Helper()
	if testing.Short() {
		t.Skip("converts with LibreOffice")
	}
	pdf := office.ToPDF(t, office.WriteFile(t, name+".docx", data))
	n := office.Pages(t, pdf)
	t.Log(office.Describe(t, pdf))
	if max > 0 && n > max {
		t.Errorf("%s: %d pages, at most %d", name, n, max)
	}
	for i, p := range office.Text(t, pdf) {
		if !strings.Contains(strings.Join(strings.Fields(p), ""), fmt.Sprintf("—%d—", i+1)) {
			t.Errorf("%s page %d: no page number", name, i+1)
		}
	}
	office.Screenshots(t, pdf, office.ScreenshotDir(1), name)
	return n
}

// LibreOffice opens both documents without repair; the diagnosis fits two pages, the
// annual report has its charts and tables in order.
func TestDocumentsConvertToPDF(t *testing.T) {
	if testing.Short() {
		t.Skip("converts with LibreOffice")
	}
	rp, db := demoReports(t)
	ctx := context.Background()
	wb, err := rp.AnnualDoc(ctx, "", queries.Params{})
	if err != nil {
		t.Fatal(err)
	}
	_, data := readDoc(t, wb)
	if n := pdfPages(t, data, "annual-all", 0); n < 6 {
		t.Errorf("annual report of %d pages", n)
	}
	// a school of each district: each diagnosis fits two pages (TestSchoolSWOTDoc reads them)
	for _, c := range []string{one(t, db, `SELECT min(school_code) FROM school_gate WHERE district = '东湖区'`),
		one(t, db, `SELECT school_code FROM school_gate WHERE gate_met = false ORDER BY shortfall DESC, school_code LIMIT 1`)} {
		wb, err := rp.SchoolSWOT(ctx, queries.Params{School: c})
		if err != nil {
			t.Fatal(err)
		}
		_, data := readDoc(t, wb)
		pdfPages(t, data, "swot-"+c, 2)
	}
}

// A district's diagnoses come as one zip: one document per school of the district, each
// a package Word opens, and nothing of another district.
func TestSchoolSWOTZip(t *testing.T) {
	_, db := demoReports(t)
	rp := scopedReports(t, db, "东湖区")
	wb, err := rp.SchoolSWOTZip(context.Background(), queries.Params{District: "东湖区"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	want := one(t, db, `SELECT count(*) FROM school_gate WHERE district = '东湖区'`)
	if fmt.Sprint(len(z.File)) != want {
		t.Errorf("%d documents, the district has %s schools", len(z.File), want)
	}
	re := regexp.MustCompile(`^东湖区_36\d{8}_.+_诊断报告\.docx$`)
	for _, f := range z.File {
		if !re.MatchString(f.Name) {
			t.Errorf("entry %s", f.Name)
		}
		rc, _ := f.Open()
		var b bytes.Buffer
		b.ReadFrom(rc)
		rc.Close()
		if err := docx.Check(b.Bytes()); err != nil {
			t.Errorf("%s: %v", f.Name, err)
		}
		d, _ := docx.Read(b.Bytes())
		if text := d.Text(); strings.Contains(text, "西山区") || strings.Contains(text, "南城区") {
			t.Errorf("%s names another district", f.Name)
		}
	}
}
