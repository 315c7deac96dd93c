package xlsxstream

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestProducers reads the same table as written by several producers (testdata/
// make_producers.sh) and compares every cell with excelize, and the cells where producers
// differ with hand-written values.
func TestProducers(t *testing.T) {
	const (
		title = "东湖区学时明细（数据截止：2025年6月30日）"
		head  = "姓名\n（必填）" // a multi-line header cell: must match after normalisation
	)
	// E3 holds 第一行, CR LF, 第二行: the libraries escape the CR (&#13; or _x000D_), so it
	// survives; LibreOffice's cell holds two paragraphs, one LF.
	crlf, lf := "第一行\r\n第二行", "第一行\n第二行"
	for _, tc := range []struct {
		file string
		want map[string]string
	}{
		{"libreoffice.xlsx", map[string]string{"A1": title, "A2": head, "B3": "11010519491231002X", "C3": "2.5", "D3": "45820",
			"E3": lf, "F3": "1", "A4": "李四", "E4": `<a & "b">  两个空格`, "F6": "_x000D_ 字面", "D7": "𐐅 补充平面"}},
		{"openpyxl.xlsx", map[string]string{"A1": title, "A2": head, "B3": "11010519491231002X", "C3": "2.5", "D3": "45820",
			"E3": crlf, "F3": "1", "E4": `<a & "b">`, "E7": "粗体", "XFD9": "最后一列"}},
		{"openpyxl_isodates.xlsx", map[string]string{"A2": head, "D3": "2025-06-12", "D6": "2025-06-30T08:30:00", "E3": crlf}},
		{"xlsxwriter.xlsx", map[string]string{"A1": title, "A2": head, "C3": "2.5", "D3": "45820", "E3": crlf, "E7": "粗体", "XFD9": "最后一列"}},
		{"xlsxwriter_constant_memory.xlsx", map[string]string{"A1": title, "A2": head, "E3": crlf, "E7": "粗体", "XFD9": "最后一列"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			wb, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, s := range wb.Sheets {
				names = append(names, s.Name)
			}
			wb.Close()
			if strings.Join(names, ",") != "填表说明,数据" {
				t.Fatalf("sheets %v", names)
			}
			ours := readOurs(t, path, 1)
			for ref, v := range tc.want {
				if ours[ref] != v {
					t.Errorf("%s: %q, want %q", ref, ours[ref], v)
				}
			}
			compare(t, ours, readExcelize(t, path, "数据"))
			compare(t, readOurs(t, path, 0), readExcelize(t, path, "填表说明"))
		})
	}
}

// part is one zip entry of a hand-made package.
type part struct{ name, body string }

const (
	ctypes  = `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>`
	pkgRels = `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	wbXML   = `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`
	wbRels  = `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`
)

func sheetXML(rows string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + rows + `</sheetData></worksheet>`
}

func sstXML(items ...string) string {
	return `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si>` + strings.Join(items, "</si><si>") + `</si></sst>`
}

// pkg is a minimal workbook with one sheet; extra parts replace those of the same name.
func pkg(sheet string, extra ...part) []part {
	parts := []part{{"[Content_Types].xml", ctypes}, {"_rels/.rels", pkgRels}, {"xl/workbook.xml", wbXML},
		{"xl/_rels/workbook.xml.rels", wbRels}, {"xl/worksheets/sheet1.xml", sheetXML(sheet)}}
	for _, e := range extra {
		found := false
		for i := range parts {
			if parts[i].name == e.name {
				parts[i], found = e, true
			}
		}
		if !found {
			parts = append(parts, e)
		}
	}
	return parts
}

func writeZip(t testing.TB, dir, name string, parts []part) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(p.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestQuirks covers what real workbooks do that the reader once got wrong. Where excelize
// reads the file right the test also compares with it; the expectations are hand-written.
func TestQuirks(t *testing.T) {
	strictWB := `<workbook xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main" xmlns:r="http://purl.oclc.org/ooxml/officeDocument/relationships" conformance="strict"><sheets><sheet name="说明" sheetId="1" r:id="rIdB"/><sheet name="数据" sheetId="2" r:id="rIdA"/></sheets></workbook>`
	strictRels := `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rIdA" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rIdB" Type="http://purl.oclc.org/ooxml/officeDocument/relationships/worksheet" Target="/xl/worksheets/sheet2.xml"/></Relationships>`
	for _, tc := range []struct {
		name     string
		parts    []part
		sheet    int
		sheets   string            // sheet names, comma-separated, when checked
		want     map[string]string // every non-empty cell
		kinds    map[string]Kind
		wantErr  string // substring of the open or read error
		excelize bool   // excelize reads this file right: compare with it too
	}{
		{name: "crlf in text is LF; an escaped CR before a literal CRLF is one CR",
			parts: pkg(`<row r="1"><c r="A1" t="inlineStr"><is><t>姓名`+"\r\n"+`（必填）</t></is></c><c r="B1" t="s"><v>0</v></c><c r="C1" t="inlineStr"><is><t>一_x000D_`+"\r\n"+`二</t></is></c><c r="D1" t="inlineStr"><is><t>单`+"\r"+`独</t></is></c></row>`,
				part{"xl/sharedStrings.xml", sstXML("<t>甲\r\n乙</t>")}),
			want:     map[string]string{"A1": "姓名\n（必填）", "B1": "甲\n乙", "C1": "一\r\n二", "D1": "单\n独"},
			excelize: true},
		{name: "an empty <v/> in a shared-string cell is an empty cell and the sheet goes on",
			parts: pkg(`<row r="1"><c r="A1" t="s"><v/></c><c r="B1" t="s"><v>0</v></c><c r="C1" t="s"><v></v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>`,
				part{"xl/sharedStrings.xml", sstXML("<t>甲</t>", "<t>乙</t>")}),
			want: map[string]string{"B1": "甲", "A2": "乙"}},
		{name: "strict namespaces: sheets resolved through relationships, not by position",
			parts: pkg("", part{"xl/workbook.xml", strictWB}, part{"xl/_rels/workbook.xml.rels", strictRels},
				part{"xl/worksheets/sheet1.xml", sheetXML(`<row r="1"><c r="A1" t="inlineStr"><is><t>数据表</t></is></c></row>`)},
				part{"xl/worksheets/sheet2.xml", sheetXML(`<row r="1"><c r="A1" t="inlineStr"><is><t>说明表</t></is></c></row>`)}),
			sheet: 1, sheets: "说明,数据", want: map[string]string{"A1": "数据表"}},
		{name: "a sheet without a relationship id is refused, not guessed",
			parts:   pkg(`<row r="1"><c r="A1"><v>1</v></c></row>`, part{"xl/workbook.xml", strings.Replace(wbXML, ` r:id="rId1"`, "", 1)}),
			wantErr: "no relationship id"},
		{name: "a relationship id in an unknown namespace is no relationship id",
			parts:   pkg(`<row r="1"><c r="A1"><v>1</v></c></row>`, part{"xl/workbook.xml", strings.Replace(wbXML, `xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`, `xmlns:r="urn:other"`, 1)}),
			wantErr: "no relationship id"},
		{name: "backslashes in zip entry names",
			parts: []part{{"[Content_Types].xml", ctypes}, {`_rels\.rels`, pkgRels}, {`xl\workbook.xml`, wbXML},
				{`xl\_rels\workbook.xml.rels`, wbRels}, {`xl\worksheets\sheet1.xml`, sheetXML(`<row r="1"><c r="A1" t="s"><v>0</v></c></row>`)},
				{`xl\sharedStrings.xml`, sstXML("<t>考勤</t>")}},
			want: map[string]string{"A1": "考勤"}},
		{name: "workbook found through _rels/.rels, not at xl/workbook.xml",
			parts: []part{{"[Content_Types].xml", ctypes},
				{"_rels/.rels", strings.Replace(pkgRels, "xl/workbook.xml", "/book/main.xml", 1)},
				{"book/main.xml", wbXML},
				{"book/_rels/main.xml.rels", strings.Replace(wbRels, "worksheets/sheet1.xml", "../tabs/t1.xml", 1)},
				{"tabs/t1.xml", sheetXML(`<row r="2"><c r="B2"><v>7</v></c></row>`)}},
			want: map[string]string{"B2": "7"}, excelize: false},
		{name: "lower-case cell references",
			parts:    pkg(`<row r="1"><c r="b1"><v>2</v></c><c r="d1"><v>4</v></c><c r="aa1"><v>27</v></c></row>`),
			want:     map[string]string{"B1": "2", "D1": "4", "AA1": "27"},
			excelize: false},
		{name: "an inline string with <v> and <is> is its <is>",
			parts: pkg(`<row r="1"><c r="A1" t="inlineStr"><v>旧值</v><is><t>新值</t></is></c><c r="B1" t="inlineStr"><is><r><t>粗</t></r><r><t>体</t></r><rPh><t>ふりがな</t></rPh></is></c></row>`),
			want:  map[string]string{"A1": "新值", "B1": "粗体"}},
		{name: "an escaped surrogate pair is one character",
			parts: pkg(`<row r="1"><c r="A1" t="inlineStr"><is><t>_xD801__xDC05_</t></is></c><c r="B1" t="inlineStr"><is><t>_xD801_x</t></is></c><c r="C1" t="inlineStr"><is><t>_x005F_x000D_</t></is></c></row>`),
			want:  map[string]string{"A1": "\U00010405", "B1": "\uFFFDx", "C1": "_x000D_"}},
		{name: "row 0 is an error",
			parts:   pkg(`<row r="0"><c r="A1"><v>1</v></c></row>`),
			wantErr: "bad row number"},
		{name: "a row beyond 1,048,576 is an error",
			parts:   pkg(`<row r="1048577"><c r="A1"><v>1</v></c></row>`),
			wantErr: "行号超过 1048576"},
		{name: "rows out of order are an error",
			parts:   pkg(`<row r="5"><c r="A5"><v>1</v></c></row><row r="3"><c r="A3"><v>1</v></c></row>`),
			wantErr: "out of order"},
		{name: "ISO durations in t=d cells are not dates",
			parts: pkg(`<row r="1"><c r="A1" t="d"><v>PT24H0M0.000S</v></c><c r="B1" t="d"><v>2025-06-30T00:00:00</v></c></row>`),
			want:  map[string]string{"A1": "PT24H0M0.000S", "B1": "2025-06-30T00:00:00"},
			kinds: map[string]Kind{"A1": Duration, "B1": Date}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeZip(t, t.TempDir(), "q.xlsx", tc.parts)
			wb, err := Open(path)
			if err == nil {
				defer wb.Close()
			}
			var got grid
			kinds := map[string]Kind{}
			if err == nil {
				var names []string
				for _, s := range wb.Sheets {
					names = append(names, s.Name)
				}
				if tc.sheets != "" && strings.Join(names, ",") != tc.sheets {
					t.Errorf("sheets %v, want %s", names, tc.sheets)
				}
				got, err = readGrid(wb, tc.sheet, kinds)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compare(t, got, grid(tc.want))
			for ref, k := range tc.kinds {
				if kinds[ref] != k {
					t.Errorf("%s: kind %d, want %d", ref, kinds[ref], k)
				}
			}
			if tc.excelize {
				compare(t, got, readExcelize(t, path, "Sheet1"))
			}
		})
	}
}

func readGrid(wb *Workbook, sheet int, kinds map[string]Kind) (grid, error) {
	rows, err := wb.Rows(sheet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	g := grid{}
	for rows.Next() {
		n, cells := rows.Row()
		for i, c := range cells {
			if c.Value != "" {
				ref, _ := excelize.CoordinatesToCellName(i+1, n)
				g[ref] = c.Value
				kinds[ref] = c.Kind
			}
		}
	}
	return g, rows.Err()
}

func openFile(path string) (*os.File, error) { return os.Open(path) }
