// Package xlsxw writes the workbooks leaders sign off: typed cells (numbers, 0.0%
// percentages, dates), Chinese headers, frozen header rows, autofilter, column widths,
// A4 landscape fit to width with the header repeated on every printed page, and sheets
// streamed row by row. excelize's StreamWriter serialises the worksheet it captured when
// it was created, so sheet properties are set before it, and filters, page setup and
// conditional formats after the rows but before Flush (measured: set later, they are lost).
package xlsxw

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// Kind is how a column's cells are written.
type Kind int

const (
	Text Kind = iota
	Int
	Number  // two decimals
	Percent // 0.0%
	Date
	Bool // 是/否
)

// Col is one column of a table.
type Col struct {
	Header string
	Kind   Kind
	Width  float64 // 0: from the header and the values
}

// Book is a workbook being written.
type Book struct {
	f      *excelize.File
	styles map[Kind]int
	header int
	title  int
	sheets int
}

// New starts a workbook.
func New() (*Book, error) {
	f := excelize.NewFile()
	b := &Book{f: f, styles: map[Kind]int{}}
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		id, e := f.NewStyle(s)
		err = e
		return id
	}
	border := []excelize.Border{{Type: "left", Color: "D9D9D9", Style: 1}, {Type: "right", Color: "D9D9D9", Style: 1},
		{Type: "top", Color: "D9D9D9", Style: 1}, {Type: "bottom", Color: "D9D9D9", Style: 1}}
	b.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "FFFFFF"}, Border: border,
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"2F5597"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}})
	b.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	pct := "0.0%"
	num := "0.00"
	date := "yyyy-mm-dd"
	b.styles[Text] = mk(&excelize.Style{Border: border})
	b.styles[Int] = mk(&excelize.Style{Border: border, NumFmt: 1})
	b.styles[Number] = mk(&excelize.Style{Border: border, CustomNumFmt: &num})
	b.styles[Percent] = mk(&excelize.Style{Border: border, CustomNumFmt: &pct})
	b.styles[Date] = mk(&excelize.Style{Border: border, CustomNumFmt: &date})
	b.styles[Bool] = mk(&excelize.Style{Border: border, Alignment: &excelize.Alignment{Horizontal: "center"}})
	return b, err
}

// File is the underlying workbook, for charts and other extras.
func (b *Book) File() *excelize.File { return b.f }

// SheetName keeps a name within Excel's 31 characters and without the characters it forbids.
func SheetName(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) {
			return '_'
		}
		return r
	}, s)
	for utf8.RuneCountInString(s) > 31 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// Table is a sheet being streamed: a title line, a header row, then rows.
type Table struct {
	b      *Book
	charts []pendingChart
	sw     *excelize.StreamWriter
	name   string
	cols   []Col
	row    int
	first  int // the header row
	width  []float64
}

// AddTable starts a sheet with an optional title line above the header.
func (b *Book) AddTable(name, title string, cols []Col) (*Table, error) {
	name = SheetName(name)
	if b.sheets == 0 {
		if err := b.f.SetSheetName("Sheet1", name); err != nil {
			return nil, err
		}
	} else if _, err := b.f.NewSheet(name); err != nil {
		return nil, err
	}
	b.sheets++
	fit := true
	if err := b.f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return nil, err
	}
	sw, err := b.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	t := &Table{b: b, sw: sw, name: name, cols: cols, width: make([]float64, len(cols))}
	for i, c := range cols {
		t.width[i] = displayWidth(c.Header) + 2
		if c.Width > 0 {
			t.width[i] = c.Width
		}
	}
	// Column widths must precede the rows in the stream: estimate from headers and kinds.
	for i, c := range cols {
		w := t.width[i]
		switch c.Kind {
		case Date:
			w = max(w, 12)
		case Percent, Number:
			w = max(w, 10)
		case Text:
			if c.Width == 0 {
				w = max(w, 14)
			}
		}
		if err := sw.SetColWidth(i+1, i+1, min(w, 60)); err != nil {
			return nil, err
		}
	}
	header := 1
	if title != "" {
		header = 2
	}
	// Panes must precede every row in the stream.
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: header, TopLeftCell: fmt.Sprintf("A%d", header+1), ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	if title != "" {
		t.row++
		cell, _ := excelize.CoordinatesToCellName(1, t.row)
		if err := sw.SetRow(cell, []any{excelize.Cell{StyleID: b.title, Value: title}}); err != nil {
			return nil, err
		}
	}
	t.row++
	t.first = t.row
	hdr := make([]any, len(cols))
	for i, c := range cols {
		hdr[i] = excelize.Cell{StyleID: b.header, Value: c.Header}
	}
	cell, _ := excelize.CoordinatesToCellName(1, t.row)
	if err := sw.SetRow(cell, hdr, excelize.RowOpts{Height: 30}); err != nil {
		return nil, err
	}
	return t, nil
}

// Row appends one row; values are written by their column's kind. Text that starts with
// = + - or @ stays text: cells are typed strings, never formulas.
func (t *Table) Row(vals ...any) error {
	t.row++
	out := make([]any, len(vals))
	for i, v := range vals {
		k := Text
		if i < len(t.cols) {
			k = t.cols[i].Kind
		}
		out[i] = excelize.Cell{StyleID: t.b.styles[k], Value: cellValue(v)}
	}
	cell, _ := excelize.CoordinatesToCellName(1, t.row)
	return t.sw.SetRow(cell, out)
}

func cellValue(v any) any {
	if b, ok := v.(bool); ok {
		if b {
			return "是"
		}
		return "否"
	}
	return v
}

// RowKinds appends a row whose cells each have their own kind (a key-value sheet).
func (t *Table) RowKinds(kinds []Kind, vals ...any) error {
	t.row++
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = excelize.Cell{StyleID: t.b.styles[kinds[i]], Value: cellValue(v)}
	}
	cell, _ := excelize.CoordinatesToCellName(1, t.row)
	return t.sw.SetRow(cell, out)
}

// Rows is the number of data rows written.
func (t *Table) Rows() int { return t.row - t.first }

// Columns is the table's width in columns.
func (t *Table) Columns() int { return len(t.cols) }

// HeaderRow is the sheet row of the header.
func (t *Table) HeaderRow() int { return t.first }

// Name is the sheet's name.
func (t *Table) Name() string { return t.name }

// Ref is the A1 reference of column col (0-based) over the data rows.
func (t *Table) Ref(col int) string {
	c, _ := excelize.ColumnNumberToName(col + 1)
	return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", t.name, c, t.first+1, c, max(t.row, t.first+1))
}

type pendingChart struct {
	anchor string
	chart  *excelize.Chart
}

// AddChart places a chart on the sheet. Charts are added when the sheet is closed, before
// the stream is flushed: added after it, the chart part exists but the sheet never links
// it, and no spreadsheet shows it.
func (t *Table) AddChart(anchor string, c *excelize.Chart) {
	t.charts = append(t.charts, pendingChart{anchor, c})
}

// Close adds the autofilter, print setup, color scales and charts, then flushes the sheet.
func (t *Table) Close(colorScaleCols ...int) error {
	f := t.b.f
	for _, c := range t.charts {
		if err := f.AddChart(t.name, c.anchor, c.chart); err != nil {
			return err
		}
	}
	last, _ := excelize.ColumnNumberToName(max(len(t.cols), 1))
	if err := f.AutoFilter(t.name, fmt.Sprintf("A%d:%s%d", t.first, last, max(t.row, t.first)), nil); err != nil {
		return err
	}
	orient, size, w, h := "landscape", 9, 1, 0
	if err := f.SetPageLayout(t.name, &excelize.PageLayoutOptions{Orientation: &orient, Size: &size, FitToWidth: &w, FitToHeight: &h}); err != nil {
		return err
	}
	if err := f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: fmt.Sprintf("'%s'!$%d:$%d", t.name, t.first, t.first), Scope: t.name}); err != nil {
		return err
	}
	for _, c := range colorScaleCols {
		col, _ := excelize.ColumnNumberToName(c + 1)
		if t.row > t.first {
			if err := f.SetConditionalFormat(t.name, fmt.Sprintf("%s%d:%s%d", col, t.first+1, col, t.row), []excelize.ConditionalFormatOptions{{
				Type: "3_color_scale", Criteria: "=", MinType: "min", MidType: "percentile", MidValue: "50", MaxType: "max",
				MinColor: "#F8696B", MidColor: "#FFEB84", MaxColor: "#63BE7B"}}); err != nil {
				return err
			}
		}
	}
	return t.sw.Flush()
}

// Write saves the workbook to w.
func (b *Book) Write(w io.Writer) error {
	if b.sheets == 0 {
		return fmt.Errorf("xlsxw: empty workbook")
	}
	b.f.SetActiveSheet(0)
	_, err := b.f.WriteTo(w)
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// DisplayWidth is how many columns text takes, CJK characters counting two.
func DisplayWidth(s string) float64 { return displayWidth(s) }

func displayWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		if r > 0x2E80 {
			w += 2
		} else {
			w++
		}
	}
	return w
}
