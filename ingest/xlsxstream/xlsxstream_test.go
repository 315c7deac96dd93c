package xlsxstream

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// grid is a sheet's non-empty cells by reference.
type grid map[string]string

func readOurs(t *testing.T, path string, sheet int) grid {
	t.Helper()
	wb, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	rows, err := wb.Rows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	g := grid{}
	for rows.Next() {
		n, cells := rows.Row()
		for i, c := range cells {
			if c.Value != "" {
				ref, _ := excelize.CoordinatesToCellName(i+1, n)
				g[ref] = c.Value
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return g
}

func readExcelize(t *testing.T, path, sheet string) grid {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	g := grid{}
	for r, row := range rows {
		for c, v := range row {
			if v != "" {
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				g[ref] = v
			}
		}
	}
	return g
}

func compare(t *testing.T, ours, theirs grid) {
	t.Helper()
	for ref, v := range theirs {
		if ours[ref] != v {
			t.Errorf("%s: ours %q, excelize %q", ref, ours[ref], v)
		}
	}
	for ref, v := range ours {
		if _, ok := theirs[ref]; !ok {
			t.Errorf("%s: ours %q, excelize has nothing", ref, v)
		}
	}
}

func TestMatchesExcelize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "quirks.xlsx")
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "填表说明")
	f.SetCellValue("填表说明", "A1", "请按模板填写")
	f.NewSheet("数据")
	f.SetCellValue("数据", "A1", "东湖区学时汇总（数据截止：2025年6月30日）")
	f.MergeCell("数据", "A1", "F1")
	head := []string{"姓名", "身份证号", "学时", "日期", "备注", "布尔"}
	for i, h := range head {
		ref, _ := excelize.CoordinatesToCellName(i+1, 2)
		f.SetCellValue("数据", ref, h)
	}
	f.SetCellValue("数据", "A3", "张三")
	f.SetCellValue("数据", "B3", "11010519491231002X")
	f.SetCellValue("数据", "C3", 2.5)
	f.SetCellValue("数据", "D3", 45820)
	f.SetCellValue("数据", "E3", `<a & "b">`)
	f.SetCellValue("数据", "F3", true)
	// row 4 left blank; row 5 sparse, rich text, control character escaped as _x000D_
	f.SetCellRichText("数据", "A5", []excelize.RichTextRun{{Text: "李"}, {Text: "四", Font: &excelize.Font{Bold: true}}})
	f.SetCellValue("数据", "C5", 0.1+0.2)
	f.SetCellValue("数据", "E5", "第一行\r\n第二行")
	f.SetCellFormula("数据", "C6", "C3+C5")
	f.SetCellValue("数据", "A7", "合计")
	f.SetCellValue("数据", "XFD7", "最后一列")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	wb, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(wb.Sheets) != 2 || wb.Sheets[0].Name != "填表说明" || wb.Sheets[1].Name != "数据" {
		t.Fatalf("sheets = %+v", wb.Sheets)
	}
	wb.Close()
	compare(t, readOurs(t, path, 1), readExcelize(t, path, "数据"))
	compare(t, readOurs(t, path, 0), readExcelize(t, path, "填表说明"))

	// Stream-written sheets (how big exports are made) too.
	path2 := filepath.Join(dir, "stream.xlsx")
	f2 := excelize.NewFile()
	sw, _ := f2.NewStreamWriter("Sheet1")
	for r := 1; r <= 2000; r++ {
		ref, _ := excelize.CoordinatesToCellName(1, r)
		sw.SetRow(ref, []any{fmt.Sprintf("教师%d", r), r * 3, float64(r) / 4, "已上传", nil, "x&y"})
	}
	sw.Flush()
	f2.SaveAs(path2)
	compare(t, readOurs(t, path2, 0), readExcelize(t, path2, "Sheet1"))
}

func TestNotXLSX(t *testing.T) {
	if _, err := OpenReader(bytes.NewReader([]byte("姓名,身份证号\n")), 20); err == nil {
		t.Fatal("a CSV opened as XLSX")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"a&amp;b":          "a&b",
		"&lt;x&gt;":        "<x>",
		"&#20013;&#x6587;": "中文",
		"line_x000D_":      "line\r",
		"_x_plain":         "_x_plain",
		"&bogus;":          "&bogus;",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzRows feeds arbitrary sheet XML to the scanner: it may refuse it, never panic or loop.
func FuzzRows(f *testing.F) {
	f.Add(`<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c><c r="B1"><v>2.5</v></c></row></sheetData></worksheet>`)
	f.Add(`<worksheet><sheetData><row><c t="s"><v>0</v></c></row><row r="3"/></sheetData></worksheet>`)
	f.Add(`<sheetData><row r="1"><c r="ZZZZ1"><v><![CDATA[1>0]]></v></c></row>`)
	f.Fuzz(func(t *testing.T, xml string) {
		r := newRows(io.NopCloser(strings.NewReader(xml)), tableOf("共享"), DefaultLimits())
		for i := 0; r.Next(); i++ {
			if i > len(xml) {
				t.Fatal("more rows than bytes")
			}
		}
	})
}

// tableOf builds a shared-string table from strings.
func tableOf(ss ...string) *sharedTable {
	t := &sharedTable{}
	for _, s := range ss {
		t.data = append(t.data, s...)
		t.ends = append(t.ends, uint32(len(t.data)))
	}
	t.all = string(t.data)
	return t
}
