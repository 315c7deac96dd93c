package ingest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Hostile files are generated, never committed: each writes its bulk as a stream, so a
// test's own memory stays small whatever the file inflates to.

const schoolHeaderCSV = "学校代码,学校名称,所属区县\n"

// writeHostileXLSX writes a one-sheet workbook; sheet and sst write the parts' bodies.
func writeHostileXLSX(t testing.TB, path string, sheet, sst func(w io.Writer)) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	put := func(name string, body func(w io.Writer)) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		bw := bufio.NewWriterSize(w, 1<<20)
		body(bw)
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	text := func(s string) func(w io.Writer) { return func(w io.Writer) { io.WriteString(w, s) } }
	put("[Content_Types].xml", text(`<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`))
	put("_rels/.rels", text(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`))
	put("xl/workbook.xml", text(`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="学校信息" sheetId="1" r:id="rId1"/></sheets></workbook>`))
	put("xl/_rels/workbook.xml.rels", text(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`))
	put("xl/worksheets/sheet1.xml", func(w io.Writer) {
		io.WriteString(w, `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
		io.WriteString(w, `<row r="1"><c r="A1" t="inlineStr"><is><t>学校代码</t></is></c><c r="B1" t="inlineStr"><is><t>学校名称</t></is></c><c r="C1" t="inlineStr"><is><t>所属区县</t></is></c></row>`)
		sheet(w)
		io.WriteString(w, `</sheetData></worksheet>`)
	})
	if sst != nil {
		put("xl/sharedStrings.xml", func(w io.Writer) {
			io.WriteString(w, `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
			sst(w)
			io.WriteString(w, `</sst>`)
		})
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// repeat writes n bytes of s repeated.
func repeat(w io.Writer, s string, n int) {
	chunk := strings.Repeat(s, (64<<10)/len(s)+1)
	for n > 0 {
		k := min(n, len(chunk))
		io.WriteString(w, chunk[:k])
		n -= k
	}
}

// The hostile inputs of the limits tests, at a size given (the tests use sizes just past the limits;
// TestWriteHostileFiles writes the full sizes for measuring).
var hostile = []struct {
	name  string
	write func(t testing.TB, path string, size int)
}{
	{"xlsx_inline_cell_bytes.xlsx", func(t testing.TB, path string, size int) { // one inline cell of size bytes
		writeHostileXLSX(t, path, func(w io.Writer) {
			io.WriteString(w, `<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>`)
			repeat(w, "校", size/3*3)
			io.WriteString(w, `</t></is></c><c r="C2" t="inlineStr"><is><t>东湖区</t></is></c></row>`)
		}, nil)
	}},
	{"xlsx_shared_cell_bytes.xlsx", func(t testing.TB, path string, size int) { // one shared string of size bytes
		writeHostileXLSX(t, path, func(w io.Writer) {
			io.WriteString(w, `<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="s"><v>0</v></c></row>`)
		}, func(w io.Writer) {
			io.WriteString(w, `<si><t>`)
			repeat(w, "x", size)
			io.WriteString(w, `</t></si>`)
		})
	}},
	{"xlsx_empty_cells_count.xlsx", func(t testing.TB, path string, size int) { // a row of size empty cells
		writeHostileXLSX(t, path, func(w io.Writer) {
			io.WriteString(w, `<row r="2">`)
			repeat(w, `<c><v></v></c>`, size*len(`<c><v></v></c>`))
			io.WriteString(w, `</row>`)
		}, nil)
	}},
	{"xlsx_shared_strings_count.xlsx", func(t testing.TB, path string, size int) { // size shared strings
		writeHostileXLSX(t, path, func(w io.Writer) {
			io.WriteString(w, `<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="s"><v>0</v></c><c r="C2" t="s"><v>0</v></c></row>`)
		}, func(w io.Writer) {
			repeat(w, `<si/>`, size*len(`<si/>`))
		})
	}},
	{"csv_line_bytes.csv", func(t testing.TB, path string, size int) { // a school list line of size bytes
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		io.WriteString(bw, schoolHeaderCSV+"3601000009,")
		repeat(bw, "校", size/3*3)
		io.WriteString(bw, ",东湖区\n")
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}},
}

// TestWriteHostileFiles writes the hostile inputs at full size into
// $TISHENG_HOSTILE_DIR, for measuring `tisheng ingest` on them.
func TestWriteHostileFiles(t *testing.T) {
	dir := os.Getenv("TISHENG_HOSTILE_DIR")
	if dir == "" {
		t.Skip("set TISHENG_HOSTILE_DIR to write the full-size hostile files")
	}
	full := map[string]int{
		"xlsx_inline_cell_bytes.xlsx":    512 << 20, // 512 MiB of text in one cell
		"xlsx_shared_cell_bytes.xlsx":    1 << 30,   // a 1 GiB shared string
		"xlsx_empty_cells_count.xlsx":    40_000_000,
		"xlsx_shared_strings_count.xlsx": 40_000_000,
		"csv_line_bytes.csv":             50 << 20, // a 50 MB line
	}
	for _, h := range hostile {
		h.write(t, filepath.Join(dir, h.name), full[h.name])
	}
}

// TestHostileFilesRefused loads each hostile input, just past its limit, and checks that it
// is refused with the limit, the file and the row named, and that nothing is written.
func TestHostileFilesRefused(t *testing.T) {
	f := newFixture(t)
	lim := DefaultLimits()
	sizes := map[string]int{
		"xlsx_inline_cell_bytes.xlsx":    lim.XLSX.XMLToken + 1024, // past what a 32,767-character cell can take
		"xlsx_shared_cell_bytes.xlsx":    lim.XLSX.XMLToken + 1024,
		"xlsx_empty_cells_count.xlsx":    lim.XLSX.Columns + 1,
		"xlsx_shared_strings_count.xlsx": lim.XLSX.SharedStrings + 1,
		"csv_line_bytes.csv":             lim.LineBytes + 64<<10, // past the bound and encoding/csv's read-ahead
	}
	want := map[string]string{
		"xlsx_inline_cell_bytes.xlsx":    "第2行：工作表「学校信息」B列：单元格超过 32767 个字符的上限",
		"xlsx_shared_cell_bytes.xlsx":    "共享字符串第1项超过单元格 32767 个字符的上限",
		"xlsx_empty_cells_count.xlsx":    "第2行：工作表「学校信息」：一行超过 16384 列的上限",
		"xlsx_shared_strings_count.xlsx": "共享字符串超过 8000000 项的上限",
		"csv_line_bytes.csv":             "第2行：一行超过 1048576 字节的上限",
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			name := strings.Replace(h.name, ".", "_2025-06-30.", 1)
			path := filepath.Join(t.TempDir(), name)
			h.write(t, path, sizes[h.name])
			r := f.load(path, Options{})
			if r.Status != StatusFailed || !strings.HasPrefix(r.Error, name+"：") ||
				!strings.Contains(r.Error, want[h.name]) || !strings.Contains(r.Error, "整个文件未导入") {
				t.Fatalf("%+v\nwant failure with %q", r, want[h.name])
			}
			f.nothingWritten()
		})
	}
}

// nothingWritten checks that the warehouse holds only the built-in catalogue.
func (f *fixture) nothingWritten() {
	f.t.Helper()
	got := f.one(`SELECT (SELECT count(*) FROM batches) || '/' || (SELECT count(*) FROM rejects) || '/' || (SELECT count(*) FROM raw_schools)`)
	if got != "1/0/0" {
		f.t.Fatalf("batches/rejects/schools = %s, want 1/0/0 (the national catalogue only)", got)
	}
}

// TestLimitsRefuseWholeFile covers each limit's class with small inputs.
func TestLimitsRefuseWholeFile(t *testing.T) {
	f := newFixture(t)
	cols := strings.Repeat("x,", 16385)
	for _, c := range []struct {
		name, body, want string
		limits           func(*Limits)
	}{
		{"cell_2025-06-30.csv", schoolHeaderCSV + "1,a,b\n2," + strings.Repeat("校", 32768) + ",b\n", "第3行：第2列的单元格超过 32767 个字符的上限", nil},
		{"quoted_2025-06-30.csv", schoolHeaderCSV + "1,\"" + strings.Repeat("校名\n", 200000) + "\",b\n", "一行超过 1048576 字节的上限", nil},
		{"columns_2025-06-30.csv", schoolHeaderCSV + cols + "\n", "第2行：一行超过 16384 列的上限", nil},
		{"rows_2025-06-30.csv", schoolHeaderCSV + "1,a,东湖区\n2,b,东湖区\n3,c,东湖区\n4,d,东湖区\n", "第5行：数据行超过 3 行的上限", func(l *Limits) { l.KeyedRows = 3 }},
		{"gbk_2025-06-30.csv", string(mustGBK(schoolHeaderCSV + "1," + strings.Repeat("校", 40000) + ",b\n")), "第2行：第2列的单元格超过 32767 个字符的上限", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.l.limits = DefaultLimits()
			if c.limits != nil {
				c.limits(&f.l.limits)
			}
			defer func() { f.l.limits = DefaultLimits() }()
			r := f.load(f.write(c.name, c.body, "utf-8"), Options{})
			if r.Status != StatusFailed || !strings.Contains(r.Error, c.want) || !strings.HasPrefix(r.Error, c.name) {
				t.Fatalf("%+v\nwant failure with %q", r, c.want)
			}
			f.nothingWritten()
		})
	}
	t.Run("xlsx rows past Excel's last row", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "rows_2025-06-30.xlsx")
		writeHostileXLSX(t, path, func(w io.Writer) {
			io.WriteString(w, `<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>甲校</t></is></c><c r="C2" t="inlineStr"><is><t>东湖区</t></is></c></row>`)
			io.WriteString(w, `<row r="1048577"><c r="A1048577"><v>2</v></c></row>`)
		}, nil)
		r := f.load(path, Options{})
		if r.Status != StatusFailed || !strings.Contains(r.Error, "行号超过 1048576 的上限") {
			t.Fatalf("%+v", r)
		}
		f.nothingWritten()
	})
}

// TestRejectsBounded: a rejected row keeps its values and reason cut to a bounded length.
func TestRejectsBounded(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("甲", 20000)
	body := schoolHeaderCSV + "3601000001,东湖小学,东湖区\n3601000002,西山中学,\n" + "3601000003," + long + ",\n"
	r := f.mustLoad(f.write("schools_2025-06-30.csv", body, "utf-8"), Options{})
	if r.Accepted != 1 || r.Rejected != 2 {
		t.Fatalf("%+v", r)
	}
	// 3 values of at most 200 characters, a cut marker, and the column names.
	if got, _ := strconv.Atoi(f.one(`SELECT max(length(row_values)) FROM rejects`)); got > 300 {
		t.Fatalf("longest row_values is %d characters, want at most 300", got)
	}
	v := f.one(`SELECT row_values FROM rejects WHERE row_no = 4`)
	if !strings.Contains(v, strings.Repeat("甲", 200)+"…（截断，共20000字）") || strings.Contains(v, strings.Repeat("甲", 201)) {
		t.Fatalf("row_values %s", v)
	}
}

// TestRejectsMaskIDsAndPhones: whatever looks like an ID or a phone number is masked in a
// rejected row's values and reason, in any column, half-masked or in full-width digits.
func TestRejectsMaskIDsAndPhones(t *testing.T) {
	f := newFixture(t)
	f.base()
	halfMasked := "3601021980****0017" // shows the birth date 1980-05-?? and more
	fullWidth := "３６０１０２１９８５０６０３００２８"
	body := "姓名,身份证号,学校名称,研修类型,活动名称,学时\n" +
		"张三," + idZhang + "," + idLi + ",网络研修,课程,2\n" + // an ID as the school name
		"13812345678," + halfMasked + ",东湖小学,网络研修,课程,2\n" + // a phone as the name
		"李四," + idLi + ",东湖小学," + idZhao + ",课程,2\n" + // an ID as the hour type
		"李四," + idLi + ",东湖小学,网络研修,电话 138-1234-5678 或 0791-88123456," + fullWidth + "\n"
	r := f.mustLoad(f.write("h_2025-06-30.csv", body, "utf-8"), Options{})
	if r.Accepted != 0 || r.Rejected != 4 {
		t.Fatalf("%+v", r)
	}
	all := strings.Join(f.rows(`SELECT reason, row_values FROM rejects ORDER BY row_no`), "\n")
	for _, r := range r.Rejects {
		all += "\n" + r.Reason
	}
	for _, secret := range []string{idZhang[6:14], idLi[6:14], idZhao[6:14], "19800512", "1980", "12345678", "1234-5678", "88123456", "１９８５０６０３"} {
		if strings.Contains(all, secret) {
			t.Errorf("rejects show %q:\n%s", secret, all)
		}
	}
	for _, masked := range []string{
		`"学校名称":"360102********` + idLi[14:] + `"`,
		`学校名称「360102********` + idLi[14:] + `」含有身份证号或电话号码`,
		`"姓名":"138****5678"`,
		`"身份证号":"360102********0017"`,
		`未知的学时类型「360102********` + idZhao[14:] + `」`,
		`"活动名称":"电话 138-****-5678 或 0791-88****56"`,
	} {
		if !strings.Contains(all, masked) {
			t.Errorf("rejects lack %s:\n%s", masked, all)
		}
	}
}

// TestKeyFileRefusedWhenOthersCanRead: like ssh with a private key, a key file that its
// group or others may read or write is refused, naming the file and the fix.
func TestKeyFileRefusedWhenOthersCanRead(t *testing.T) {
	t.Setenv(KeyEnv, "")
	for _, c := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o644, false}, {0o604, false}, {0o620, false}, {0o666, false}} {
		t.Run(c.mode.String(), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "tisheng.key")
			if err := os.WriteFile(file, []byte("00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, c.mode); err != nil {
				t.Fatal(err)
			}
			t.Setenv(KeyFileEnv, file)
			k, err := LoadKey(context.Background(), nil, filepath.Join(t.TempDir(), "w.duckdb"))
			if c.ok {
				if err != nil || len(k) != 16 {
					t.Fatalf("%x %v", k, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "chmod 600 "+file) {
				t.Fatalf("err = %v; want a refusal naming %s and chmod 600", err, file)
			}
		})
	}
}

// FuzzCSVWithinLimits reads arbitrary bytes as CSV under small limits: a file is refused or
// every row it yields is within them.
func FuzzCSVWithinLimits(f *testing.F) {
	f.Add([]byte(schoolHeaderCSV + "1,东湖小学,东湖区\n"))
	f.Add([]byte("a,b,c,d,e,f\n\"x\ny\",z\n"))
	f.Add([]byte("\"" + strings.Repeat("长", 40) + "\"\n"))
	f.Add(mustGBK("姓名,学时\n李四,2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := DefaultLimits()
		lim.LineBytes, lim.Columns, lim.CellChars = 64, 4, 8
		src, err := openSource(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			return
		}
		for i := 0; i < 10000; i++ {
			cells, _, err := src.next()
			if err != nil {
				return
			}
			if len(cells) > lim.Columns {
				t.Fatalf("%d cells", len(cells))
			}
			for _, c := range cells {
				if utf8.RuneCountInString(c.V) > lim.CellChars {
					t.Fatalf("cell %q", c.V)
				}
			}
		}
	})
}

// FuzzMaskSensitive: masking is stable, and leaves no run of more than 10 visible digits in
// a 15-character ID-like run and no bare mobile number.
func FuzzMaskSensitive(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "3601021980****0017", "电话13812345678", "138-1234-5678",
		"０７９１-８８１２３４５６", "２０２５年", "440402198506121234567", "学时2.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := maskSensitive(s)
		if maskSensitive(m) != m {
			t.Fatalf("not stable: %q -> %q -> %q", s, m, maskSensitive(m))
		}
		for _, run := range reDigitRun.FindAllString(foldDigits(m), -1) {
			digits := len(run) - strings.Count(run, "*")
			if len(run) >= 15 && digits > 10 || isMobile(run) {
				t.Fatalf("%q masked to %q still shows %q", s, m, run)
			}
		}
	})
}
