package testkit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"tisheng/ingest"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// Moves is the demo's July, in which a teacher and a school change district:
//
//   - 韦娟志 (东湖区第1中学, 东湖区) leaves: 东湖区's July roster no longer lists her, and
//     西山区's lists her at 西山区第2高级中学, whose July hours file gives her hours;
//   - 南城区第2高级中学 moves to 西山区 on the July school list; 西山区's July hours file
//     has a row for one of its teachers (姜婷);
//   - 东湖区's July assessments (June's, repeated) add a row whose 能力点 cell is free text
//     of 东湖区's own (东湖区内部备注…), which names no point;
//   - 南城区 reloads the moved school's June assessments, with a row naming no point (A99):
//     a June file that still counts for the school in July.
//
// Everything else stays as in June. The files are written to dir; load them after the demo.
type Moves struct {
	Files []string

	Teacher, TeacherID         string // the teacher who moves
	TeacherFrom, TeacherTo     string // her districts: before July, from July
	School, SchoolName         string // the school that moves
	SchoolFrom, SchoolTo       string // its districts: before July, from July
	SchoolTeacher              string // the teacher of the moved school on 西山区's July hours file
	SchoolTeacherID            string
	FreeText, FreeTextDistrict string // 东湖区's own words in an assessment's 能力点 cell
	UnknownPoint               string // the point 南城区's reloaded June file names, in no catalogue
}

// WriteMoves writes the July files into dir, from the demo under testdata and the school
// list of wh (a warehouse holding the demo).
func WriteMoves(t testing.TB, testdata, dir string, db *sql.DB) *Moves {
	t.Helper()
	m := &Moves{
		Teacher: "韦娟志", TeacherID: "360200198610246163", TeacherFrom: "东湖区", TeacherTo: "西山区",
		School: "3603000005", SchoolName: "南城区第2高级中学", SchoolFrom: "南城区", SchoolTo: "西山区",
		SchoolTeacher: "姜婷", SchoolTeacherID: "360202198812173129",
		FreeText: "东湖区内部备注：该教师材料待复核", FreeTextDistrict: "东湖区", UnknownPoint: "A99",
	}
	demo := filepath.Join(testdata, "demo")
	write := func(name string, rows [][]string) {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if err := w.WriteAll(rows); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, p)
	}

	// The school list, as June's but for the school that moves.
	rows, err := db.QueryContext(context.Background(), `SELECT school_code, school_name, district, coalesce(stage, ''), coalesce(urban_rural, ''),
		CASE WHEN is_pilot THEN '是' ELSE '否' END, coalesce(environment, '')
		FROM school_info WHERE month = '2025-06' ORDER BY school_code`)
	if err != nil {
		t.Fatal(err)
	}
	list := [][]string{{"学校代码", "学校名称", "所属区县", "学段", "城乡类型", "是否试点校", "教学环境"}}
	for rows.Next() {
		r := make([]string, 7)
		ptrs := make([]any, 7)
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if r[0] == m.School {
			r[2] = m.SchoolTo
		}
		list = append(list, r)
	}
	rows.Close()
	if len(list) < 3 {
		t.Fatal("the demo's school list is missing")
	}
	write("学校信息_2025-07.csv", list)

	// 东湖区's July roster: June's without her.
	roster := readCSV(t, filepath.Join(demo, "东湖区_教师名单_2025-06-30.csv"), true)
	var herRow []string
	kept := [][]string{roster[0]}
	for _, r := range roster[1:] {
		if len(r) > 2 && r[2] == m.TeacherID {
			herRow = r
			continue
		}
		kept = append(kept, r)
	}
	if herRow == nil {
		t.Fatalf("%s is not on the demo's 东湖区 roster", m.Teacher)
	}
	write("东湖区_教师名单_2025-07-31.csv", kept)

	// 西山区's July roster: June's, and her at 西山区第2高级中学.
	xs := readXLSX(t, filepath.Join(demo, "西山区_教师名单_2025-06-30.xlsx"), "序号")
	her := append([]string(nil), herRow...)
	her[0], her[3] = "999", "西山区第2高级中学"
	write("西山区_教师名单_2025-07-31.csv", append(xs, her))

	// 西山区's July hours: June's, her hours, and a teacher of the school that moves.
	hs := readXLSX(t, filepath.Join(demo, "西山区_学时汇总_2025-06-30.xlsx"), "姓名")
	hs = append(hs,
		[]string{m.Teacher, m.TeacherID, "西山区第2高级中学", "12", "6", "2", "1", "21"},
		[]string{m.SchoolTeacher, m.SchoolTeacherID, m.SchoolName, "30", "20", "3", "2", "55"})
	write("西山区_学时汇总_2025-07-31.csv", hs)

	// 东湖区's July assessments: June's, and a row of its own free text.
	as := readCSV(t, filepath.Join(demo, "东湖区_能力点测评_20250630.csv"), false)
	if len(as) < 2 {
		t.Fatal("the demo's 东湖区 assessments are missing")
	}
	var extra []string
	for _, r := range as[1:] {
		if len(r) > 5 && r[1] != m.TeacherID {
			extra = append([]string(nil), r...)
			break
		}
	}
	extra[3], extra[5] = m.FreeText, "2025/7/20"
	write("东湖区_能力点测评_20250731.csv", append(as, extra))

	// 南城区's June assessments of the school that moves, again, with a point nobody has
	ns := readCSV(t, filepath.Join(demo, "南城区_能力点测评_20250630.csv"), false)
	moved := [][]string{ns[0]}
	for _, r := range ns[1:] {
		if len(r) > 2 && r[2] == m.SchoolName {
			moved = append(moved, r)
		}
	}
	if len(moved) < 2 {
		t.Fatal("the demo has no assessments of the school that moves")
	}
	a99 := append([]string(nil), moved[1]...)
	a99[3] = m.UnknownPoint
	write("南城区_能力点测评_补报_20250630.csv", append(moved, a99))

	return m
}

// readCSV reads a demo CSV (GBK when gbk), its BOM dropped.
func readCSV(t testing.TB, path string, gbk bool) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if gbk {
		if b, err = simplifiedchinese.GB18030.NewDecoder().Bytes(b); err != nil {
			t.Fatal(err)
		}
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// readXLSX reads a demo workbook's first sheet from its header row (the first cell of which
// is first) to the row before its 合计.
func readXLSX(t testing.TB, path, first string) [][]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, r := range rows {
		switch {
		case len(r) > 0 && r[0] == first:
			out = [][]string{r}
		case out != nil && len(r) > 0 && strings.HasPrefix(r[0], "合计"):
			return out
		case out != nil:
			out = append(out, r)
		}
	}
	if out == nil {
		t.Fatalf("%s: no header starting %s", path, first)
	}
	return out
}

// DemoMoved is Demo with the July of WriteMoves loaded and the models refreshed.
func DemoMoved(t testing.TB, testdata, db string, opts warehouse.Options) (*warehouse.Warehouse, *ingest.Loader, *Moves) {
	t.Helper()
	wh, l := Demo(t, testdata, db, opts)
	m := WriteMoves(t, testdata, t.TempDir(), wh.DB)
	ctx := context.Background()
	for _, r := range l.LoadFiles(ctx, m.Files, ingest.Options{}, nil) {
		if r.Status != ingest.StatusLoaded {
			t.Fatalf("%s: %s %s", r.File, r.Status, r.Error)
		}
	}
	p, err := models.LoadProfile("national")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := models.Refresh(ctx, wh, p); err != nil {
		t.Fatal(err)
	}
	return wh, l, m
}
