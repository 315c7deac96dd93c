package ingest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"tisheng/ingest/xlsxstream"
)

// Encodings a CSV may come in.
const (
	EncUTF8    = "utf-8"
	EncUTF8BOM = "utf-8-bom"
	EncGB18030 = "gb18030" // GB18030 is a superset of GBK, so GBK files decode the same
)

// fileError fails a whole file; Line is the file's line or row, 0 when it has none.
type fileError struct {
	Line int
	Msg  string
}

func (e *fileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("第%d行：%s", e.Line, e.Msg)
	}
	return e.Msg
}

// source yields the non-blank rows of one table with their row numbers in the file.
type source interface {
	next() ([]Cell, int, error) // io.EOF at the end
	close() error
	info() (format, encoding, sheet string)
}

// sniffLen is how much of a CSV is looked at to choose its encoding and delimiter.
const sniffLen = 64 << 10

// openSource opens r as XLSX or CSV by its leading bytes, never by its name.
func openSource(r io.ReaderAt, size int64, lim Limits) (source, error) {
	head := make([]byte, min(size, sniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, err
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(head, bom))) == 0 {
		return nil, &fileError{Msg: "文件为空"}
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return nil, errIsXLSX
	case bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		return nil, &fileError{Msg: "这是旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后再导入"}
	case bytes.IndexByte(head, 0) >= 0:
		return nil, &fileError{Msg: "不是 CSV 或 XLSX 文件"}
	}
	return newCSVSource(r, size, head, lim)
}

var (
	bom       = []byte{0xEF, 0xBB, 0xBF}
	errIsXLSX = errors.New("xlsx")
)

type csvSource struct {
	cr    *csv.Reader
	br    *boundedReader
	lim   Limits
	enc   string
	cells []Cell
}

func newCSVSource(r io.ReaderAt, size int64, head []byte, lim Limits) (*csvSource, error) {
	var rd io.Reader = io.NewSectionReader(r, 0, size)
	enc := EncUTF8
	switch {
	case bytes.HasPrefix(head, bom):
		enc = EncUTF8BOM
		rd = io.NewSectionReader(r, 3, size-3)
	case validUTF8Prefix(head, int64(len(head)) < size):
		enc = EncUTF8
	default:
		enc = EncGB18030
		rd = transform.NewReader(rd, simplifiedchinese.GB18030.NewDecoder())
	}
	br := &boundedReader{r: rd, max: int64(lim.LineBytes)}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	cr.Comma = sniffDelimiter(head)
	return &csvSource{cr: cr, br: br, lim: lim, enc: enc}, nil
}

// validUTF8Prefix checks head, allowing a rune cut at the end when more of the file follows.
func validUTF8Prefix(head []byte, more bool) bool {
	if more {
		for i := 0; i < utf8.UTFMax && len(head) > 0; i++ {
			if utf8.Valid(head) {
				return true
			}
			head = head[:len(head)-1]
		}
	}
	return utf8.Valid(head)
}

// sniffDelimiter picks tab for tab-separated text that platforms sometimes save as .csv.
func sniffDelimiter(head []byte) rune {
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	}
	if bytes.Count(line, []byte("\t")) > bytes.Count(line, []byte(",")) {
		return '\t'
	}
	return ','
}

func (s *csvSource) info() (string, string, string) { return "csv", s.enc, "" }
func (s *csvSource) close() error                   { return nil }

func (s *csvSource) next() ([]Cell, int, error) {
	for {
		rec, err := s.cr.Read()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		if errors.Is(err, errRecordTooLong) {
			return nil, 0, limitError(s.br.lines+1, "一行超过 %d 字节的上限", s.lim.LineBytes)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, &fileError{Line: pe.Line, Msg: "CSV 格式错误：" + pe.Err.Error()}
			}
			return nil, 0, &fileError{Msg: "读取失败：" + err.Error()}
		}
		line, _ := s.cr.FieldPos(0)
		s.br.mark = s.cr.InputOffset()
		if len(rec) > s.lim.Columns {
			return nil, 0, limitError(line, "一行超过 %d 列的上限", s.lim.Columns)
		}
		s.cells = s.cells[:0]
		blank := true
		for i, f := range rec {
			if len(f) > s.lim.CellChars && utf8.RuneCountInString(f) > s.lim.CellChars {
				return nil, 0, limitError(line, "第%d列的单元格超过 %d 个字符的上限（与 Excel 单元格的上限相同）", i+1, s.lim.CellChars)
			}
			// x/text turns bytes that are invalid in GB18030 into U+FFFD without a word, and a
			// UTF-8 file may carry stray bytes: either way the file is refused, not stored.
			if strings.ContainsRune(f, utf8.RuneError) || !utf8.ValidString(f) {
				return nil, 0, &fileError{Line: line, Msg: fmt.Sprintf("含有 %s 编码中无效的字节", encName(s.enc))}
			}
			if blank && clean(f) != "" {
				blank = false
			}
			s.cells = append(s.cells, Cell{V: f})
		}
		if !blank {
			return s.cells, line, nil
		}
	}
}

func encName(enc string) string {
	switch enc {
	case EncGB18030:
		return "GBK/GB18030"
	default:
		return "UTF-8"
	}
}

type xlsxSource struct {
	wb    *xlsxstream.Workbook
	rows  *xlsxstream.Rows
	sheet string
	cells []Cell
}

func (s *xlsxSource) info() (string, string, string) { return "xlsx", "", s.sheet }

func (s *xlsxSource) close() error {
	if s.rows != nil {
		s.rows.Close()
	}
	return nil
}

func (s *xlsxSource) next() ([]Cell, int, error) {
	for s.rows.Next() {
		n, cs := s.rows.Row()
		s.cells = s.cells[:0]
		blank := true
		for _, c := range cs {
			cell := Cell{V: c.Value}
			switch c.Kind {
			case xlsxstream.Number:
				cell.Num = true
			case xlsxstream.Date:
				cell.V, _, _ = strings.Cut(c.Value, "T")
				// xlsxstream.Duration stays as written: a time span is no date, so a date
				// column refuses it rather than reading a day out of it.
			}
			if blank && clean(cell.V) != "" {
				blank = false
			}
			s.cells = append(s.cells, cell)
		}
		if !blank {
			return s.cells, n, nil
		}
	}
	if err := s.rows.Err(); err != nil {
		if fe, ok := fromXLSXLimit(err, s.sheet); ok {
			return nil, 0, fe
		}
		return nil, 0, &fileError{Msg: fmt.Sprintf("工作表「%s」读取失败：%v", s.sheet, err)}
	}
	return nil, 0, io.EOF
}

// bufferedRow is a row read while looking for the header.
type bufferedRow struct {
	cells []Cell
	no    int
}

// opened is a source positioned after its header, with the rows above it kept for the
// as-of title and the rows read past it waiting to be replayed.
type opened struct {
	src     source
	h       *header
	above   [][]string
	pending []bufferedRow
}

func (o *opened) next() ([]Cell, int, error) {
	if len(o.pending) > 0 {
		r := o.pending[0]
		o.pending = o.pending[1:]
		return r.cells, r.no, nil
	}
	return o.src.next()
}

// scanHeader reads up to headerScanRows rows from src looking for a header.
func scanHeader(src source, want Kind, shape string) (*opened, error) {
	var rows []bufferedRow
	var texts [][]string
	for len(rows) < headerScanRows {
		cells, no, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		cp := append([]Cell(nil), cells...)
		rows = append(rows, bufferedRow{cells: cp, no: no})
		t := make([]string, len(cp))
		for i, c := range cp {
			t[i] = c.V
		}
		texts = append(texts, t)
	}
	if len(rows) == 0 {
		return nil, &fileError{Msg: "文件中没有数据"}
	}
	h, err := findHeader(texts, want, shape)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &fileError{Msg: err.Error()}
	}
	o := &opened{src: src, h: h, above: texts[:h.row], pending: rows[h.row+1:]}
	return o, nil
}

// skipSheet names sheets that explain a template rather than hold data.
func skipSheet(name string) bool {
	return strings.Contains(name, "填表说明") || strings.Contains(name, "说明")
}

// openTable opens r and finds the table to load: for XLSX, the first sheet whose header
// matches a kind.
func openTable(r io.ReaderAt, size int64, want Kind, shape string, lim Limits) (*opened, error) {
	src, err := openSource(r, size, lim)
	if err == nil {
		return scanHeader(src, want, shape)
	}
	if err != errIsXLSX {
		return nil, err
	}
	wb, err := xlsxstream.OpenReaderLimits(r, size, lim.XLSX)
	if err != nil {
		if fe, ok := fromXLSXLimit(err, ""); ok {
			return nil, fe
		}
		return nil, &fileError{Msg: "XLSX 文件已损坏或不是 XLSX：" + err.Error()}
	}
	for i, sh := range wb.Sheets {
		if skipSheet(sh.Name) {
			continue
		}
		rows, err := wb.Rows(i)
		if err != nil {
			if fe, ok := fromXLSXLimit(err, sh.Name); ok {
				return nil, fe
			}
			return nil, &fileError{Msg: fmt.Sprintf("工作表「%s」无法读取：%v", sh.Name, err)}
		}
		xs := &xlsxSource{wb: wb, rows: rows, sheet: sh.Name}
		o, err := scanHeader(xs, want, shape)
		if err == nil {
			return o, nil
		}
		xs.close()
		var fe *fileError
		if errors.As(err, &fe) && fe.Msg != errNoHeader.Error() && fe.Msg != "文件中没有数据" {
			if strings.HasPrefix(fe.Msg, "工作表「") { // a limit, already naming its sheet
				return nil, fe
			}
			return nil, &fileError{Line: fe.Line, Msg: fmt.Sprintf("工作表「%s」%s", sh.Name, fe.Msg)}
		}
	}
	return nil, &fileError{Msg: "没有一个工作表的表头可识别（应为学校信息、教师名单、学时明细/汇总、研修考核、能力点测评结果或能力点目录之一）"}
}
