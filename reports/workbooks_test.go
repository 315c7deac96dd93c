package reports

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/xuri/excelize/v2"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
	"tisheng/queries"
)

// demoReports builds the demo warehouse (南城区 has only May's hours export, so its June
// figures are stale) and the reports over it.
func demoReports(t *testing.T) (*Reports, *sql.DB) {
	t.Helper()
	wh, _ := testkit.Demo(t, "../testdata", filepath.Join(t.TempDir(), "w.duckdb"), warehouse.Options{})
	r, err := queries.NewRunner(wh.DB)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := New(r)
	if err != nil {
		t.Fatal(err)
	}
	return rp, wh.DB
}

func one(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v.String
}

// open writes the workbook and reads it back.
func open(t *testing.T, wb *Workbook) (*excelize.File, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f, buf.Bytes()
}

var reASCIIWord = regexp.MustCompile(`[A-Za-z]{2,}`)

// englishSentence reports text a Chinese reader should not meet: two or more ASCII words
// and no CJK character ("One school's standing", "code dimension").
func englishSentence(s string) bool {
	if len(reASCIIWord.FindAllString(s, -1)) < 2 {
		return false
	}
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return false
		}
	}
	return true
}

func TestEnglishSentenceHelper(t *testing.T) {
	for s, want := range map[string]bool{
		"One school's standing in the month.": true,
		"code dimension":                      true,
		"总览: per district in the month":       false, // caught by the sheet check below, not this one
		"A1,A3,A6":                            false,
		"national":                            false,
		"全国基本要求（national）":                    false,
		"2025-06-30":                          false,
	} {
		if got := englishSentence(s); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
}

// checkUserText walks every cell, sheet name, header and footer of a workbook and fails on
// English a user would read: a sentence of ASCII words, or a cell made only of codes like
// hours / teachers / progress that have Chinese labels.
func checkUserText(t *testing.T, f *excelize.File) {
	t.Helper()
	codes := map[string]bool{"hours": true, "teachers": true, "progress": true, "assessments": true, "schools": true,
		"catalogue": true, "school": true, "item": true, "code": true, "dimension": true, "environment": true, "detail": true, "summary": true}
	for _, sh := range f.GetSheetList() {
		if !strings.ContainsFunc(sh, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
			t.Errorf("sheet name %q is not Chinese", sh)
		}
		rows, err := f.GetRows(sh)
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range rows {
			for j, c := range row {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+1)
				if englishSentence(c) || codes[strings.TrimSpace(c)] {
					t.Errorf("%s!%s: English %q", sh, cell, c)
				}
				// English beside Chinese in a title or note ("总览: per district …").
				if len(reASCIIWord.FindAllString(c, -1)) >= 3 {
					t.Errorf("%s!%s: English words in %q", sh, cell, c)
				}
			}
		}
		hf, _ := f.GetHeaderFooter(sh)
		if hf != nil && (englishSentence(hf.OddHeader) || englishSentence(hf.OddFooter)) {
			t.Errorf("%s: English header/footer %q %q", sh, hf.OddHeader, hf.OddFooter)
		}
	}
}

// checkPrint fails unless every sheet prints with the report's name in its page header,
// page numbers (&P of &N) in its footer and a print area.
func checkPrint(t *testing.T, f *excelize.File, report string) {
	t.Helper()
	areas := map[string]bool{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Area" {
			areas[dn.Scope] = true
		}
	}
	for _, sh := range f.GetSheetList() {
		hf, err := f.GetHeaderFooter(sh)
		if err != nil || hf == nil {
			t.Errorf("%s: no header/footer (%v)", sh, err)
			continue
		}
		if !strings.Contains(hf.OddFooter, "&P") || !strings.Contains(hf.OddFooter, "&N") {
			t.Errorf("%s: footer %q has no page numbers", sh, hf.OddFooter)
		}
		if !strings.Contains(hf.OddHeader, report) {
			t.Errorf("%s: header %q lacks %q", sh, hf.OddHeader, report)
		}
		if !areas[sh] {
			t.Errorf("%s: no print area", sh)
		}
	}
}

// coverFields reads the label/value pairs of a cover (label in B, value in C).
func coverFields(t *testing.T, f *excelize.File, sheet string) map[string]string {
	t.Helper()
	rows, _ := f.GetRows(sheet)
	kv := map[string]string{}
	for _, r := range rows {
		if len(r) >= 3 && r[1] != "" {
			kv[r[1]] = r[2]
		}
	}
	return kv
}

func cellText(f *excelize.File, sheet string) string {
	rows, _ := f.GetRows(sheet)
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, "|"))
		b.WriteString("\n")
	}
	return b.String()
}

// findCell returns the cell (e.g. C12) whose value is the label's neighbour on a cover.
func coverValueCell(t *testing.T, f *excelize.File, sheet, label string) string {
	t.Helper()
	rows, _ := f.GetRows(sheet)
	for i, r := range rows {
		if len(r) >= 2 && r[1] == label {
			return fmt.Sprintf("C%d", i+1)
		}
	}
	t.Fatalf("%s: no %s", sheet, label)
	return ""
}

func isNumberCell(t *testing.T, f *excelize.File, sheet, cell string) bool {
	t.Helper()
	ct, err := f.GetCellType(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	return ct != excelize.CellTypeSharedString && ct != excelize.CellTypeInlineString && ct != excelize.CellTypeFormula
}

// headerRow finds the row (0-based) whose cells include every label.
func headerRow(t *testing.T, rows [][]string, labels ...string) (int, map[string]int) {
	t.Helper()
	for i, r := range rows {
		idx := map[string]int{}
		for j, c := range r {
			idx[c] = j
		}
		ok := true
		for _, l := range labels {
			if _, has := idx[l]; !has {
				ok = false
			}
		}
		if ok {
			return i, idx
		}
	}
	t.Fatalf("no header row with %v", labels)
	return 0, nil
}

func TestMonthlyWorkbookPrintsReadyToSign(t *testing.T) {
	rp, db := demoReports(t)
	ctx := context.Background()
	wb, err := rp.Monthly(ctx, queries.Params{Month: "2025-06"})
	if err != nil {
		t.Fatal(err)
	}
	wb.Unit = "某市教师发展中心"
	f, raw := open(t, wb)
	sheets := f.GetSheetList()
	if sheets[0] != "封面" {
		t.Fatalf("first sheet %s, want the cover", sheets[0])
	}
	checkUserText(t, f)
	checkPrint(t, f, "月报")

	// The cover's title block, figures and sign block.
	kv := coverFields(t, f, "封面")
	for label, want := range map[string]string{"区县": "全部区县", "统计月份": "2025年6月", "制表单位": "某市教师发展中心",
		"数据截止日期（教师名单）": "2025-06-30"} {
		if kv[label] != want {
			t.Errorf("cover %s = %q, want %q", label, kv[label], want)
		}
	}
	if !strings.Contains(kv["报表名称"], "月报") || !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(kv["制表日期"]) {
		t.Errorf("cover 报表名称 %q 制表日期 %q", kv["报表名称"], kv["制表日期"])
	}
	// 南城区 has only May's hours: the hours line says so.
	if h := kv["数据截止日期（学时）"]; !strings.Contains(h, "2025-06-30") || !strings.Contains(h, "2025-05-31") || !strings.Contains(h, "数据滞后") {
		t.Errorf("cover hours as-of %q", h)
	}
	text := cellText(f, "封面")
	for _, want := range []string{"审核人", "负责人（签字）", "盖章", "日期", "南城区"} {
		if !strings.Contains(text, want) {
			t.Errorf("cover lacks %q", want)
		}
	}
	// Headline figures are typed numbers, counted by hand from the teacher table.
	teachers := one(t, db, `SELECT count(*) FROM teacher_progress_monthly WHERE month = '2025-06'`)
	c := coverValueCell(t, f, "封面", "教师数")
	if v, _ := f.GetCellValue("封面", c, excelize.Options{RawCellValue: true}); v != teachers || !isNumberCell(t, f, "封面", c) {
		t.Errorf("教师数 %q (want the number %s)", v, teachers)
	}
	c = coverValueCell(t, f, "封面", "完成率")
	want := one(t, db, `SELECT round(count(*) FILTER (WHERE complete) / count(*), 3) FROM teacher_progress_monthly WHERE month = '2025-06'`)
	if v, _ := f.GetCellValue("封面", c, excelize.Options{RawCellValue: true}); !sameNumber(v, want) || !isNumberCell(t, f, "封面", c) {
		t.Errorf("完成率 %q, want the number %s", v, want)
	}

	c = coverValueCell(t, f, "封面", "未达门槛的学校数")
	if v, _ := f.GetCellValue("封面", c); v != one(t, db, `SELECT count(*) FROM school_gate_monthly WHERE month = '2025-06' AND gate_met = false`) {
		t.Errorf("未达门槛的学校数 %s", v)
	}

	// Stale data per school and per district.
	rows, _ := f.GetRows("学校进度")
	h, idx := headerRow(t, rows, "学校代码", "所属区县", "数据滞后（来自更早月份的文件）")
	for _, r := range rows[h+1:] {
		stale := ""
		if len(r) > idx["数据滞后（来自更早月份的文件）"] {
			stale = r[idx["数据滞后（来自更早月份的文件）"]]
		}
		if (r[idx["所属区县"]] == "南城区") != strings.Contains(stale, "2025-05-31") {
			t.Errorf("%s (%s): 数据滞后 %q", r[idx["学校代码"]], r[idx["所属区县"]], stale)
		}
	}
	rows, _ = f.GetRows("区县汇总")
	h, idx = headerRow(t, rows, "所属区县", "数据滞后学校数")
	for _, r := range rows[h+1:] {
		n := one(t, db, `SELECT count(*) FROM school_gate_monthly WHERE month = '2025-06' AND district = ?`, r[idx["所属区县"]])
		if r[idx["所属区县"]] != "南城区" {
			n = "0"
		}
		if r[idx["数据滞后学校数"]] != n {
			t.Errorf("%s: %s stale schools, want %s", r[idx["所属区县"]], r[idx["数据滞后学校数"]], n)
		}
	}
	// Rates read as 0.0% and are stored with the precision shown: the chart, the table
	// and the CSV cannot disagree.
	rows, _ = f.GetRows("学校进度")
	h, idx = headerRow(t, rows, "合格率")
	for i := h + 1; i < len(rows); i++ {
		cell, _ := excelize.CoordinatesToCellName(idx["合格率"]+1, i+1)
		v, _ := f.GetCellValue("学校进度", cell, excelize.Options{RawCellValue: true})
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || !isNumberCell(t, f, "学校进度", cell) {
			t.Fatalf("%s: %q not a number", cell, v)
		}
		if s := strconv.FormatFloat(x*1000, 'f', 6, 64); !strings.HasSuffix(s, ".000000") && !strings.HasSuffix(s, "999999") {
			t.Errorf("%s: rate %s has more decimals than the 0.1%% shown", cell, v)
		}
		if shown, _ := f.GetCellValue("学校进度", cell); !strings.HasSuffix(shown, "%") {
			t.Errorf("%s shown as %q", cell, shown)
		}
	}

	// Charts: on sheets of their own (the tables keep their print width), rates on a
	// 0–100% axis, black axis text.
	zr, _ := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	sheetXML := map[string]string{}
	charts := map[string]string{}
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		switch {
		case strings.HasPrefix(zf.Name, "xl/worksheets/sheet"):
			sheetXML[zf.Name] = string(b)
		case strings.HasPrefix(zf.Name, "xl/charts/chart"):
			charts[zf.Name] = string(b)
		}
	}
	if len(charts) != 2 {
		t.Fatalf("%d charts", len(charts))
	}
	for i, sh := range sheets {
		x := sheetXML[fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1)]
		if strings.HasSuffix(sh, "图") != strings.Contains(x, "<drawing ") {
			t.Errorf("%s: drawing %v", sh, strings.Contains(x, "<drawing "))
		}
	}
	for name, x := range charts {
		rate := strings.Contains(x, "月度趋势")
		if rate && (!strings.Contains(x, `formatCode="0%"`) || !strings.Contains(x, `<max val="1"`)) {
			t.Errorf("%s: a rate chart without a 0–100%% axis", name)
		}
		if !rate && !strings.Contains(x, `<min val="0"`) {
			t.Errorf("%s: a count chart not starting at 0", name)
		}
		if !strings.Contains(x, `000000`) {
			t.Errorf("%s: axis text not black", name)
		}
	}
}

func sameNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}

func TestSchoolRosterGateFirstAndSigned(t *testing.T) {
	rp, db := demoReports(t)
	ctx := context.Background()
	school := one(t, db, `SELECT school_code FROM school_gate_monthly WHERE month = '2025-06' AND district = '南城区' AND gate_met = false ORDER BY shortfall DESC LIMIT 1`)
	short := one(t, db, `SELECT shortfall FROM school_gate_monthly WHERE month = '2025-06' AND school_code = ?`, school)
	wb, err := rp.SchoolRoster(ctx, queries.Params{Month: "2025-06", School: school})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(wb.FileName, "南城区") || !strings.HasSuffix(wb.FileName, "_学校名单.xlsx") {
		t.Errorf("file name %s", wb.FileName)
	}
	f, _ := open(t, wb)
	checkUserText(t, f)
	checkPrint(t, f, "教师名单")
	rows, _ := f.GetRows("学校名单")
	// The gate first: the line under the title.
	if want := "未达标，还差 " + short + " 人"; len(rows) < 2 || !strings.Contains(rows[1][0], want) {
		t.Fatalf("second row %q, want %q", rows[1], want)
	}
	text := cellText(f, "学校名单")
	for _, want := range []string{"数据截止日期", "数据滞后", "2025-05-31", "制表单位", "制表日期", "校长（签字）", "审核人", "学校（盖章）"} {
		if !strings.Contains(text, want) {
			t.Errorf("roster lacks %q", want)
		}
	}
	h, idx := headerRow(t, rows, "姓名", "总学时", "完成培训", "通过的能力点")
	n := 0
	for i := h + 1; i < len(rows) && len(rows[i]) > idx["完成培训"]; i++ {
		n++
		codes := strings.Split(rows[i][idx["通过的能力点"]], ",")
		if !sort.SliceIsSorted(codes, func(a, b int) bool { return queries.NaturalLess(codes[a], codes[b]) }) {
			t.Errorf("row %d: points %v not in natural order", i+1, codes)
		}
		cell, _ := excelize.CoordinatesToCellName(idx["总学时"]+1, i+1)
		if !isNumberCell(t, f, "学校名单", cell) {
			t.Errorf("%s: hours stored as text", cell)
		}
	}
	if fmt.Sprint(n) != one(t, db, `SELECT count(*) FROM teacher_progress_monthly WHERE month = '2025-06' AND school_code = ?`, school) {
		t.Errorf("%d teacher rows", n)
	}
}

func TestAnnualTypedAndChinese(t *testing.T) {
	rp, db := demoReports(t)
	wb, err := rp.Annual(context.Background(), queries.Params{})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := open(t, wb)
	if f.GetSheetList()[0] != "封面" {
		t.Errorf("sheets %v", f.GetSheetList())
	}
	checkUserText(t, f)
	checkPrint(t, f, "实施情况")
	text := cellText(f, "封面")
	for _, want := range []string{"报表名称", "统计月份", "数据截止日期", "制表单位", "制表日期", "审核人", "签字"} {
		if !strings.Contains(text, want) {
			t.Errorf("annual cover lacks %q", want)
		}
	}
	// Every value of 总体情况 is a typed number; the teachers count is hand-checked.
	rows, _ := f.GetRows("总体情况")
	h, _ := headerRow(t, rows, "项目", "数值")
	for i := h + 1; i < len(rows); i++ {
		cell := fmt.Sprintf("B%d", i+1)
		if !isNumberCell(t, f, "总体情况", cell) {
			t.Errorf("总体情况 %s (%s) stored as text: %q", cell, rows[i][0], rows[i][1])
		}
		if rows[i][0] == "教师数" && rows[i][1] != one(t, db, `SELECT count(*) FROM teacher_progress`) {
			t.Errorf("教师数 %s", rows[i][1])
		}
		if rows[i][0] == "完成率" && !strings.HasSuffix(rows[i][1], "%") {
			t.Errorf("完成率 shown as %q", rows[i][1])
		}
	}
	// 能力点选择: categories in Chinese, codes in natural order.
	rows, _ = f.GetRows("能力点选择")
	h, idx := headerRow(t, rows, "类别", "能力点 / 维度 / 环境")
	var codes []string
	for _, r := range rows[h+1:] {
		switch r[idx["类别"]] {
		case "能力点":
			codes = append(codes, r[idx["能力点 / 维度 / 环境"]])
		case "维度", "环境":
		default:
			t.Errorf("category %q", r[idx["类别"]])
		}
	}
	list := strings.Join(codes, ",")
	if i2, i11 := strings.Index(list, "A2,"), strings.Index(list, "A11,"); i2 < 0 || i11 < 0 || i2 > i11 {
		t.Errorf("codes not in natural order: %s", list)
	}
	if rows, _ := f.GetRows("按学校"); len(rows) > 1 && !strings.Contains(strings.Join(rows[1], ","), "学校") {
		t.Errorf("按学校 header %v", rows[1])
	}
}

// Every table download is a Chinese workbook whose name says what, when and where, and no
// two share a name.
func TestTableDownloadsChineseAndDistinct(t *testing.T) {
	rp, _ := demoReports(t)
	ctx := context.Background()
	p := queries.Params{Month: "2025-06", District: "东湖区", School: "3601000001"}
	seen := map[string]string{}
	for _, q := range rp.r.Catalog().Names() {
		t.Run(q, func(t *testing.T) {
			wb, err := rp.TableDownload(ctx, q, p, false)
			if err != nil {
				t.Fatal(err)
			}
			if other, dup := seen[wb.FileName]; dup {
				t.Errorf("%s and %s both download as %s", q, other, wb.FileName)
			}
			seen[wb.FileName] = q
			if !strings.Contains(wb.FileName, "2025年6月") || !strings.Contains(wb.FileName, "东湖区") || !strings.Contains(wb.FileName, queries.QueryTitle(q)) || englishSentence(strings.TrimSuffix(wb.FileName, ".xlsx")) {
				t.Errorf("file name %s", wb.FileName)
			}
			f, _ := open(t, wb)
			checkUserText(t, f)
			a1, _ := f.GetCellValue(f.GetSheetList()[0], "A1")
			if !strings.ContainsFunc(a1, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("A1 %q", a1)
			}
			hf, _ := f.GetHeaderFooter(f.GetSheetList()[0])
			if hf == nil || !strings.Contains(hf.OddFooter, "&P") {
				t.Errorf("no page numbers")
			}
		})
	}
}

// The CSV of a table shows rates as the pages do (87.7%), never as raw floats, and kinds
// in Chinese.
func TestTableCSVRatesAndKinds(t *testing.T) {
	rp, db := demoReports(t)
	ctx := context.Background()
	wb, err := rp.TableDownload(ctx, "overview_districts", queries.Params{Month: "2025-06"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := wb.Write(&buf); err != nil {
		t.Fatal(err)
	}
	want := one(t, db, `SELECT printf('%.1f%%', round(sum(complete) / sum(teachers), 3) * 100) FROM school_gate_monthly WHERE month = '2025-06' AND district = '南城区'`)
	if !strings.Contains(buf.String(), ","+want+",") {
		t.Errorf("CSV lacks 南城区 完成率 %s:\n%s", want, buf.String())
	}
	if regexp.MustCompile(`\d\.\d{4,}`).MatchString(buf.String()) {
		t.Errorf("raw floats in CSV:\n%s", buf.String())
	}
	wb, err = rp.TableDownload(ctx, "batches", queries.Params{Month: "2025-06"}, true)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	wb.Write(&buf)
	if !strings.Contains(buf.String(), ",学时") || strings.Contains(buf.String(), ",hours,") {
		t.Errorf("kinds not in Chinese:\n%.400s", buf.String())
	}
}

// Every column a named query returns has a Chinese label: it heads a column in a
// download, the pages and the workbooks.
func TestEveryQueryColumnLabelled(t *testing.T) {
	rp, _ := demoReports(t)
	for _, q := range rp.r.Catalog().Names() {
		res, err := rp.r.Named(context.Background(), q, queries.Params{Month: "2025-06", School: "3601000001"}, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Columns {
			if !strings.ContainsFunc(c.Label, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("%s: column %s has no Chinese label", q, c.Name)
			}
		}
	}
}
