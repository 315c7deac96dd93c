package xlsxw

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// A table with a title block and a sign block: the header sits under the block, the
// filter and Rows() stop at the data, the print area and titles cover the right rows, and
// an & in the report name cannot start a header/footer code.
func TestTableBlocksAndPrint(t *testing.T) {
	b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	b.SetPrint(Print{Report: "研修&考核 月报", Scope: "东湖区 · 2025年6月", Unit: "东湖区教师发展中心", Date: "2025-07-01"})
	tb, err := b.AddTableBlock("名单", "标题", []Line{{Text: "95%门槛：未达标，还差 3 人", Strong: true, Warn: true}, {Text: "数据截止日期：2025-06-30"}},
		[]Col{{Header: "姓名"}, {Header: "总学时", Kind: Number}, {Header: "合格率", Kind: Percent}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][]any{{"甲", 50.5, 0.955}, {"乙", 12.0, 0.5}} {
		if err := tb.Row(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Notes("校长（签字）：＿＿＿＿"); err != nil {
		t.Fatal(err)
	}
	if tb.HeaderRow() != 4 || tb.Rows() != 2 {
		t.Fatalf("header row %d, rows %d", tb.HeaderRow(), tb.Rows())
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := b.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("名单")
	if rows[1][0] != "95%门槛：未达标，还差 3 人" || rows[3][0] != "姓名" || !strings.Contains(rows[len(rows)-1][0], "校长（签字）") {
		t.Fatalf("rows %q", rows)
	}
	if v, _ := f.GetCellValue("名单", "C5"); v != "95.5%" {
		t.Errorf("C5 %q", v)
	}
	if ct, _ := f.GetCellType("名单", "B5"); ct == excelize.CellTypeSharedString || ct == excelize.CellTypeInlineString {
		t.Error("a number stored as text")
	}
	hf, _ := f.GetHeaderFooter("名单")
	if !strings.Contains(hf.OddHeader, "研修&&考核 月报") || !strings.Contains(hf.OddFooter, "第 &P 页，共 &N 页") ||
		!strings.Contains(hf.OddFooter, "东湖区教师发展中心") || !strings.Contains(hf.OddFooter, "2025-07-01") {
		t.Errorf("header %q footer %q", hf.OddHeader, hf.OddFooter)
	}
	defs := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		defs[dn.Name] = dn.RefersTo
	}
	if defs["_xlnm.Print_Titles"] != "'名单'!$4:$4" || defs["_xlnm.Print_Area"] != "'名单'!$A$1:$C$8" {
		t.Errorf("defined names %v", defs)
	}
	if p, _ := f.GetPanes("名单"); !p.Freeze || p.YSplit != 4 {
		t.Errorf("panes %+v", p)
	}
}
