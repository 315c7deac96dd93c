package xlsxstream

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
)

// Limits bound what one workbook can make the reader hold or do. Every bound is checked on
// the bytes as they are read, never on sizes the file declares about itself, so a small file
// that inflates to gigabytes is refused after reading at most the bound.
type Limits struct {
	CellChars     int   // characters in one cell (Excel's own limit is 32,767)
	RowBytes      int   // bytes of cell values in one row
	Rows          int   // highest row number (Excel: 1,048,576)
	Columns       int   // highest column and most cells in a row (Excel: 16,384, XFD)
	SharedStrings int   // entries of the shared-string table
	SharedBytes   int64 // bytes of text in the shared-string table
	PartBytes     int64 // uncompressed bytes of any one part (zip entry)
	// A part may inflate to at most PartRatio times its compressed size once it is past
	// RatioFloor bytes: real sheets compress 5–30 times, zip bombs about a thousand.
	PartRatio  int64
	RatioFloor int64
	MetaBytes  int64 // uncompressed bytes of the workbook and relationship parts
	XMLToken   int   // bytes of one XML tag or text run
	Sheets     int   // worksheets in the workbook
	SheetName  int   // characters of a sheet's name (Excel: 31)
}

// DefaultLimits are Excel's own bounds where it has them, and room for a province's export
// (a million rows) elsewhere.
func DefaultLimits() Limits {
	return Limits{
		CellChars:     32767,
		RowBytes:      1 << 20,
		Rows:          1048576,
		Columns:       16384,
		SharedStrings: 8_000_000,
		SharedBytes:   128 << 20,
		PartBytes:     2 << 30,
		PartRatio:     100,
		RatioFloor:    64 << 20,
		MetaBytes:     8 << 20,
		XMLToken:      1 << 20,
		Sheets:        1024,
		SheetName:     255, // Excel allows 31; other producers write longer names
	}
}

// LimitError is a workbook refused for exceeding a limit. Its text is for the user.
type LimitError struct {
	Limit string // what was exceeded, with the bound (简体中文)
	Part  string // the zip entry
	Row   int    // the sheet row, 0 when not in a row
	Col   int    // the 0-based column, -1 when not in a cell
}

func (e *LimitError) Error() string {
	loc := ""
	if e.Row > 0 {
		loc = fmt.Sprintf("第%d行", e.Row)
		if e.Col >= 0 {
			loc += ColumnName(e.Col) + "列"
		}
		loc += "："
	}
	return loc + e.Limit
}

// ColumnName turns a 0-based column into its letters (0 → A, 16383 → XFD).
func ColumnName(c int) string {
	var b []byte
	for c++; c > 0; c = (c - 1) / 26 {
		b = append([]byte{byte('A' + (c-1)%26)}, b...)
	}
	return string(b)
}

// errTokenTooLong is a tag or text run longer than Limits.XMLToken; the reader turns it into a
// LimitError that says where.
var errTokenTooLong = errors.New("xml token too long")

// partReader counts the bytes a zip entry inflates to and stops at the part's bounds.
type partReader struct {
	rc      io.ReadCloser
	name    string
	n       int64
	max     int64 // absolute cap
	ratio   int64
	ratioAt int64 // inflated bytes the ratio allows; checked past the floor
	floor   int64
}

func (p *partReader) Read(b []byte) (int, error) {
	n, err := p.rc.Read(b)
	p.n += int64(n)
	// A read that crosses a bound hands on none of its bytes: nothing past the bound is
	// ever parsed, even when the rest of the part arrived in the same read.
	if p.n > p.max {
		return 0, &LimitError{Limit: fmt.Sprintf("文件内部件 %s 解压后超过 %d 字节的上限（疑似压缩炸弹）", p.name, p.max), Part: p.name, Col: -1}
	}
	if p.n > p.floor && p.n > p.ratioAt {
		return 0, &LimitError{Limit: fmt.Sprintf("文件内部件 %s 解压后超过压缩大小的 %d 倍（疑似压缩炸弹）", p.name, p.ratio), Part: p.name, Col: -1}
	}
	return n, err
}

func (p *partReader) Close() error { return p.rc.Close() }

// openPart opens a zip entry through the limits. The compressed size used for the ratio is
// the one archive/zip reads within (it never reads past it), so a lying header can only
// make the bound tighter.
func (l *Limits) openPart(f *zip.File, max int64) (io.ReadCloser, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	if l.PartBytes < max {
		max = l.PartBytes
	}
	comp := int64(f.CompressedSize64)
	if comp < 1 {
		comp = 1
	}
	ratioAt := comp * l.PartRatio
	if ratioAt/l.PartRatio != comp { // overflow: no ratio bound beyond the absolute one
		ratioAt = max
	}
	return &partReader{rc: rc, name: f.Name, max: max, ratio: l.PartRatio, ratioAt: ratioAt, floor: l.RatioFloor}, nil
}
