package xlsxstream

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// small is a set of limits tiny enough to reach with hand-made parts.
func small() Limits {
	return Limits{CellChars: 5, RowBytes: 16, Rows: 3, Columns: 4, SharedStrings: 3, SharedBytes: 12,
		PartBytes: 4096, PartRatio: 10, RatioFloor: 2048, MetaBytes: 2048, XMLToken: 128,
		Sheets: 2, SheetName: 6}
}

// TestLimits: each limit refuses a workbook that passes it by one, with a LimitError that
// names it and says where; one less passes.
func TestLimits(t *testing.T) {
	inl := func(ref, v string) string {
		return `<c r="` + ref + `" t="inlineStr"><is><t>` + v + `</t></is></c>`
	}
	for _, tc := range []struct {
		name    string
		parts   []part
		limits  func(*Limits)
		want    string // substring of the LimitError; "" when the workbook must read
		row     int
		col     int
		wantErr bool
	}{
		{name: "a cell of the limit reads", parts: pkg(`<row r="1">` + inl("A1", "一二三四五") + `</row>`)},
		{name: "a cell over it is refused", parts: pkg(`<row r="1">` + inl("A1", "x") + inl("B1", "一二三四五六") + `</row>`),
			want: "单元格超过 5 个字符", row: 1, col: 1},
		{name: "a cell made of many runs is one cell", parts: pkg(`<row r="1"><c r="C1" t="inlineStr"><is><r><t>一二三</t></r><r><t>四五六</t></r></is></c></row>`),
			want: "单元格超过 5 个字符", row: 1, col: 2},
		{name: "a text run past the XML token bound inside a cell", parts: pkg(`<row r="2"><c r="A2"><v>` + strings.Repeat("1", 200) + `</v></c></row>`),
			want: "单元格超过 5 个字符", row: 2, col: 0},
		{name: "a tag past the XML token bound", parts: pkg(`<row r="1" x="` + strings.Repeat("y", 200) + `"><c r="A1"><v>1</v></c></row>`),
			want: "XML 片段超过 128 字节", col: -1},
		{name: "a row's bytes", parts: pkg(`<row r="1">` + inl("A1", "abcde") + inl("B1", "abcde") + inl("C1", "abcde") + inl("D1", "ab") + `</row>`),
			want: "一行的内容超过 16 字节", row: 1, col: 3},
		{name: "a column past the last", parts: pkg(`<row r="1"><c r="E1"><v>1</v></c></row>`),
			want: "一行超过 4 列", row: 1, col: -1},
		{name: "more cells than columns, without references", parts: pkg(`<row r="1">` + strings.Repeat(`<c><v>1</v></c>`, 5) + `</row>`),
			want: "一行超过 4 列", row: 1, col: -1},
		{name: "the same cell repeated is counted", parts: pkg(`<row r="1">` + strings.Repeat(`<c r="A1"><v>1</v></c>`, 5) + `</row>`),
			want: "一行超过 4 列", row: 1, col: -1},
		{name: "a row past the last", parts: pkg(`<row r="4"><c r="A4"><v>1</v></c></row>`),
			want: "行号超过 3", col: -1},
		{name: "rows without numbers count too", parts: pkg(strings.Repeat(`<row><c><v>1</v></c></row>`, 4)),
			want: "行号超过 3", row: 3, col: -1},
		{name: "shared strings of the limit read", parts: pkg(`<row r="1"><c r="A1" t="s"><v>2</v></c></row>`, part{"xl/sharedStrings.xml", sstXML("<t>甲</t>", "<t>乙</t>", "<t>丙</t>")})},
		{name: "one shared string too many", parts: pkg(`<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, part{"xl/sharedStrings.xml", sstXML("<t>1</t>", "<t>2</t>", "<t>3</t>", "<t>4</t>")}),
			want: "共享字符串超过 3 项", col: -1},
		{name: "shared strings' bytes", parts: pkg(`<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, part{"xl/sharedStrings.xml", sstXML("<t>甲乙丙</t>", "<t>丁戊己</t>")}),
			want: "共享字符串总量超过 12 字节", col: -1},
		{name: "a long shared string", parts: pkg(`<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, part{"xl/sharedStrings.xml", sstXML("<r><t>一二三</t></r><r><t>四五六</t></r>")}),
			want: "共享字符串第1项超过单元格 5 个字符", col: -1},
		{name: "a part's inflated size", parts: pkg(`<row r="1"><c r="A1"><v>1</v></c></row>` + strings.Repeat("<!-- -->", 600)),
			limits: func(l *Limits) { l.PartRatio = 1 << 20 }, want: "解压后超过 4096 字节", col: -1},
		{name: "a part's compression ratio", parts: pkg(`<row r="1"><c r="A1"><v>1</v></c></row>` + strings.Repeat(" ", 3000)),
			want: "解压后超过压缩大小的 10 倍", col: -1},
		{name: "the workbook part's size", parts: pkg(`<row r="1"><c r="A1"><v>1</v></c></row>`, part{"xl/workbook.xml", strings.Replace(wbXML, "<sheets>", "<sheets>"+strings.Repeat("<!-- -->", 300), 1)}),
			limits: func(l *Limits) { l.PartRatio = 1 << 20 }, want: "xl/workbook.xml 解压后超过 2048 字节", col: -1},
		{name: "a sheet name of the limit", parts: pkg(`<row r="1"><c r="A1"><v>1</v></c></row>`, part{"xl/workbook.xml", strings.Replace(wbXML, `name="Sheet1"`, `name="一二三四五六"`, 1)})},
		{name: "a sheet name over it", parts: pkg(`<row r="1"><c r="A1"><v>1</v></c></row>`, part{"xl/workbook.xml", strings.Replace(wbXML, `name="Sheet1"`, `name="一二三四五六七"`, 1)}),
			want: "工作表名称超过 6 个字符", col: -1},
		{name: "too many sheets", parts: pkg(`<row r="1"><c r="A1"><v>1</v></c></row>`, part{"xl/workbook.xml", strings.Replace(wbXML, `</sheets>`, `<sheet name="a" r:id="rId1"/><sheet name="b" r:id="rId1"/></sheets>`, 1)}),
			want: "工作表超过 2 个", col: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := small()
			if tc.limits != nil {
				tc.limits(&l)
			}
			path := writeZip(t, t.TempDir(), "l.xlsx", tc.parts)
			err := readAll(path, l)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *LimitError
			if !errors.As(err, &le) || !strings.Contains(le.Limit, tc.want) || le.Row != tc.row || le.Col != tc.col {
				t.Fatalf("err = %#v; want a LimitError with %q at row %d column %d", err, tc.want, tc.row, tc.col)
			}
		})
	}
}

func readAll(path string, l Limits) error {
	f, err := openFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, _ := f.Stat()
	wb, err := OpenReaderLimits(f, st.Size(), l)
	if err != nil {
		return err
	}
	rows, err := wb.Rows(0)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// FuzzRowsWithinLimits feeds arbitrary sheet XML to the reader under small limits: it may
// refuse it, never panic or loop, and whatever it returns is within the limits.
func FuzzRowsWithinLimits(f *testing.F) {
	f.Add(`<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c><c r="B1"><v>2.5</v></c></row></sheetData>`)
	f.Add(`<sheetData><row><c t="s"><v>0</v></c><c><v>12345678</v></c></row><row r="3"/><row r="2"/></sheetData>`)
	f.Add(`<sheetData><row r="1"><c r="d1"><v><![CDATA[1>0]]></v></c><c r="A1" t="d"><v>PT1H</v></c></row>`)
	f.Add(`<sheetData><row r="1"><c r="A1" t="inlineStr"><v>x</v><is><t>_xD801__xDC05_` + "\r\n" + `</t></is></c></row>`)
	f.Fuzz(func(t *testing.T, xml string) {
		l := small()
		r := newRows(io.NopCloser(strings.NewReader(xml)), tableOf("共享", "一二三四五"), l)
		prev := 0
		for r.Next() {
			n, cells := r.Row()
			if n <= prev || n > l.Rows {
				t.Fatalf("row %d after %d", n, prev)
			}
			prev = n
			if len(cells) > l.Columns {
				t.Fatalf("%d cells", len(cells))
			}
			total := 0
			for _, c := range cells {
				if utf8.RuneCountInString(c.Value) > l.CellChars {
					t.Fatalf("cell %q", c.Value)
				}
				total += len(c.Value)
			}
			if total > l.RowBytes {
				t.Fatalf("row of %d bytes", total)
			}
		}
	})
}
