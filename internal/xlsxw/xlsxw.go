// Package xlsxw writes the workbooks leaders sign off: typed cells (numbers, 0.0%
// percentages, dates), Chinese headers, frozen header rows, autofilter, column widths,
// A4 landscape fit to width with the header repeated on every printed page, the report's
// name in the page header and 第 N 页，共 M 页 in the footer, a print area that holds the
// table and its chart, an optional cover sheet with the title block and a 审核/签字 block,
// and sheets streamed row by row. excelize's StreamWriter serialises the worksheet it
// captured when it was created, so sheet properties are set before it, and filters, page
// setup, header/footer and conditional formats after the rows but before Flush (measured:
// set later, they are lost).
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
	Bool     // 是/否
	DateTime // yyyy-mm-dd hh:mm
)

// Col is one column of a table.
type Col struct {
	Header string
	Kind   Kind
	Width  float64 // 0: from the header and the values
}

// Print is what every printed page of the workbook carries: the report's name and scope in
// the page header, the unit, the page number and the date in the footer.
type Print struct {
	Report string // 报表名称, e.g. 2025年6月 提升工程2.0 月报
	Scope  string // 区县 and 统计月份, e.g. 东湖区 · 2025年6月
	Unit   string // 制表单位 (blank: a line to fill by hand)
	Date   string // 制表日期 YYYY-MM-DD
}

// Line is one line of a sheet's title block.
type Line struct {
	Text   string
	Strong bool // bold and larger: the line a reader must see first
	Warn   bool // dark red: something is behind or stale
}

// Book is a workbook being written.
type Book struct {
	f      *excelize.File
	styles map[Kind]int
	header int
	title  int
	note   int
	strong int
	warn   int
	sheets int
	print  Print
	cover  coverStyles
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
	border := []excelize.Border{{Type: "left", Color: "BFBFBF", Style: 1}, {Type: "right", Color: "BFBFBF", Style: 1},
		{Type: "top", Color: "BFBFBF", Style: 1}, {Type: "bottom", Color: "BFBFBF", Style: 1}}
	b.header = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "FFFFFF"}, Border: border,
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"2F5597"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}})
	b.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}, Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}})
	b.strong = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12, Color: "1F3864"}, Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}})
	b.warn = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12, Color: "C00000"}, Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}})
	b.note = mk(&excelize.Style{Font: &excelize.Font{Color: "262626"}, Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}})
	pct := "0.0%"
	num := "0.00"
	date := "yyyy-mm-dd"
	// Cells are indented and vertically centred in taller rows: printed, a table packed to
	// the borders is hard to read.
	pad := func(h string) *excelize.Alignment {
		return &excelize.Alignment{Horizontal: h, Vertical: "center", Indent: 1}
	}
	b.styles[Text] = mk(&excelize.Style{Border: border, Alignment: pad("left")})
	b.styles[Int] = mk(&excelize.Style{Border: border, NumFmt: 1, Alignment: pad("right")})
	b.styles[Number] = mk(&excelize.Style{Border: border, CustomNumFmt: &num, Alignment: pad("right")})
	b.styles[Percent] = mk(&excelize.Style{Border: border, CustomNumFmt: &pct, Alignment: pad("right")})
	b.styles[Date] = mk(&excelize.Style{Border: border, CustomNumFmt: &date, Alignment: pad("center")})
	dt := "yyyy-mm-dd hh:mm"
	b.styles[DateTime] = mk(&excelize.Style{Border: border, CustomNumFmt: &dt, Alignment: pad("center")})
	b.styles[Bool] = mk(&excelize.Style{Border: border, Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"}})
	b.cover = coverStyles{
		title:    mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 20}, Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}}),
		subtitle: mk(&excelize.Style{Font: &excelize.Font{Size: 14}, Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"}}),
		section:  mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 12, Color: "1F3864"}, Alignment: &excelize.Alignment{Vertical: "bottom"}, Border: []excelize.Border{{Type: "bottom", Color: "1F3864", Style: 2}}}),
		label:    mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Border: border, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"EDF1F8"}}, Alignment: pad("left")}),
		value:    mk(&excelize.Style{Border: border, Alignment: &excelize.Alignment{Horizontal: "left", Vertical: "center", Indent: 1, WrapText: true}}),
		sign:     mk(&excelize.Style{Font: &excelize.Font{Size: 12}, Alignment: &excelize.Alignment{Vertical: "bottom"}}),
		kinds:    map[Kind]int{},
	}
	left := &excelize.Alignment{Horizontal: "left", Vertical: "center", Indent: 1}
	b.cover.kinds[Int] = mk(&excelize.Style{Border: border, NumFmt: 3, Alignment: left})
	b.cover.kinds[Number] = mk(&excelize.Style{Border: border, CustomNumFmt: &num, Alignment: left})
	b.cover.kinds[Percent] = mk(&excelize.Style{Border: border, CustomNumFmt: &pct, Alignment: left})
	b.cover.kinds[Date] = mk(&excelize.Style{Border: border, CustomNumFmt: &date, Alignment: left})
	b.cover.kinds[Bool] = mk(&excelize.Style{Border: border, Alignment: left})
	return b, err
}

// File is the underlying workbook, for charts and other extras.
func (b *Book) File() *excelize.File { return b.f }

// SetPrint sets the page header and footer of every sheet added afterwards.
func (b *Book) SetPrint(p Print) { b.print = p }

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

func (b *Book) newSheet(name string) error {
	if b.sheets == 0 {
		if err := b.f.SetSheetName("Sheet1", name); err != nil {
			return err
		}
	} else if _, err := b.f.NewSheet(name); err != nil {
		return err
	}
	b.sheets++
	return nil
}

// headerFooter escapes text for a header/footer section (& starts a code) and cuts it
// to what fits.
func hfText(s string, n int) string {
	s = strings.ReplaceAll(s, "&", "&&")
	for utf8.RuneCountInString(s) > n {
		_, k := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-k]
	}
	return s
}

// pageSetup gives a sheet its paper, fit, header and footer, print titles and print area.
func (b *Book) pageSetup(sheet, title, orient string, titleRow, lastCol, lastRow int, fitHeight int) error {
	f := b.f
	size, w := 9, 1
	if err := f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &orient, Size: &size, FitToWidth: &w, FitToHeight: &fitHeight}); err != nil {
		return err
	}
	top, bottom, side, hf := 0.75, 0.75, 0.5, 0.3
	centre := true
	if err := f.SetPageMargins(sheet, &excelize.PageLayoutMarginsOptions{Top: &top, Bottom: &bottom, Left: &side, Right: &side, Header: &hf, Footer: &hf, Horizontally: &centre}); err != nil {
		return err
	}
	report := b.print.Report
	if report == "" {
		report = title
	}
	if report == "" {
		report = sheet
	}
	unit := b.print.Unit
	if unit == "" {
		unit = "＿＿＿＿＿＿＿＿"
	}
	date := b.print.Date
	if date == "" {
		date = "&D"
	} else {
		date = hfText(date, 20)
	}
	header := `&L&"-,Bold"` + hfText(report, 80) + `&R` + hfText(strings.TrimSpace(b.print.Scope+" · "+sheet), 60)
	if b.print.Scope == "" {
		header = `&L&"-,Bold"` + hfText(report, 80) + `&R` + hfText(sheet, 40)
	}
	footer := `&L制表单位：` + hfText(unit, 40) + `&C第 &P 页，共 &N 页&R制表日期：` + date
	if err := f.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{OddHeader: header, OddFooter: footer}); err != nil {
		return err
	}
	q := quoteSheet(sheet)
	if titleRow > 0 {
		if err := f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: fmt.Sprintf("%s!$%d:$%d", q, titleRow, titleRow), Scope: sheet}); err != nil {
			return err
		}
	}
	last, _ := excelize.ColumnNumberToName(max(lastCol, 1))
	return f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Area", RefersTo: fmt.Sprintf("%s!$A$1:$%s$%d", q, last, max(lastRow, 1)), Scope: sheet})
}

func quoteSheet(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Table is a sheet being streamed: a title line, optional title-block lines, a header
// row, then rows, then optional notes (a sign block) below.
type Table struct {
	b      *Book
	charts []pendingChart
	sw     *excelize.StreamWriter
	name   string
	title  string
	cols   []Col
	row    int
	first  int // the header row
	last   int // the last data row, once notes follow
	width  []float64
	notes  bool
}

// AddTable starts a sheet with an optional title line above the header.
func (b *Book) AddTable(name, title string, cols []Col) (*Table, error) {
	return b.AddTableBlock(name, title, nil, cols)
}

// AddTableBlock starts a sheet with a title line and, under it, block lines (the title
// block: 区县, 统计月份, 数据截止日期, a school's standing …), each a row of its own across
// the table's width, before the header.
func (b *Book) AddTableBlock(name, title string, block []Line, cols []Col) (*Table, error) {
	name = SheetName(name)
	if err := b.newSheet(name); err != nil {
		return nil, err
	}
	fit := true
	if err := b.f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return nil, err
	}
	sw, err := b.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	t := &Table{b: b, sw: sw, name: name, title: title, cols: cols, width: make([]float64, len(cols))}
	for i, c := range cols {
		// Headers wrap onto two lines: a 是/否 or number column need not be as wide as
		// its header, and narrower columns print larger.
		t.width[i] = displayWidth(c.Header) + 4
		if c.Kind != Text {
			t.width[i] = min(t.width[i], max(displayWidth(c.Header)/2+6, 10))
		}
		if c.Width > 0 {
			t.width[i] = c.Width
		}
	}
	// Column widths must precede the rows in the stream: estimate from headers and kinds.
	for i, c := range cols {
		w := t.width[i]
		switch c.Kind {
		case Date:
			w = max(w, 13)
		case DateTime:
			w = max(w, 18)
		case Percent, Number:
			w = max(w, 11)
		case Text:
			if c.Width == 0 {
				w = max(w, 14)
			}
		}
		t.width[i] = min(w, 60)
		if err := sw.SetColWidth(i+1, i+1, t.width[i]); err != nil {
			return nil, err
		}
	}
	header := 1 + len(block)
	if title != "" {
		header++
	}
	// Panes must precede every row in the stream.
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: header, TopLeftCell: fmt.Sprintf("A%d", header+1), ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	if title != "" {
		if err := t.line(b.title, title, 28*float64(lines(title, t.totalWidth()/1.4))); err != nil {
			return nil, err
		}
	}
	for _, l := range block {
		style, h := b.note, 20.0
		switch {
		case l.Warn:
			style, h = b.warn, 24
		case l.Strong:
			style, h = b.strong, 24
		}
		if err := t.line(style, l.Text, h*float64(lines(l.Text, t.totalWidth()))); err != nil {
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
	if err := sw.SetRow(cell, hdr, excelize.RowOpts{Height: 32}); err != nil {
		return nil, err
	}
	return t, nil
}

// line writes one text row across the table's width.
func (t *Table) line(style int, text string, height float64) error {
	t.row++
	cell, _ := excelize.CoordinatesToCellName(1, t.row)
	if err := t.sw.SetRow(cell, []any{excelize.Cell{StyleID: style, Value: text}}, excelize.RowOpts{Height: height}); err != nil {
		return err
	}
	if len(t.cols) > 1 {
		end, _ := excelize.CoordinatesToCellName(len(t.cols), t.row)
		return t.sw.MergeCell(cell, end)
	}
	return nil
}

// totalWidth is the table's width in character columns.
func (t *Table) totalWidth() float64 {
	w := 0.0
	for _, x := range t.width {
		w += x
	}
	return w
}

// lines is how many printed lines text takes in a merged row width characters wide.
func lines(s string, width float64) int {
	return max(1, int(displayWidth(s)/max(width-2, 10))+1)
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
	return t.sw.SetRow(cell, out, excelize.RowOpts{Height: 20})
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
	return t.sw.SetRow(cell, out, excelize.RowOpts{Height: 20})
}

// Notes appends text rows below the data (a note, a 审核/签字 block), after one blank
// row; the filter and the row count stop at the data.
func (t *Table) Notes(lines ...string) error {
	return t.below(t.b.cover.sign, 36, lines)
}

// Footnotes appends explanatory text rows below the data, as Notes does, in the body size.
func (t *Table) Footnotes(lines ...string) error {
	return t.below(t.b.note, 20, lines)
}

func (t *Table) below(style int, height float64, lines []string) error {
	if !t.notes {
		t.last = t.row
		t.notes = true
		t.row++
	}
	for _, l := range lines {
		if err := t.line(style, l, height); err != nil {
			return err
		}
	}
	return nil
}

func (t *Table) dataEnd() int {
	if t.notes {
		return t.last
	}
	return t.row
}

// Rows is the number of data rows written.
func (t *Table) Rows() int { return t.dataEnd() - t.first }

// Columns is the table's width in columns.
func (t *Table) Columns() int { return len(t.cols) }

// HeaderRow is the sheet row of the header.
func (t *Table) HeaderRow() int { return t.first }

// Name is the sheet's name.
func (t *Table) Name() string { return t.name }

// Ref is the A1 reference of column col (0-based) over the data rows.
func (t *Table) Ref(col int) string {
	c, _ := excelize.ColumnNumberToName(col + 1)
	return fmt.Sprintf("%s!$%s$%d:$%s$%d", quoteSheet(t.name), c, t.first+1, c, max(t.dataEnd(), t.first+1))
}

type pendingChart struct {
	anchor string
	chart  *excelize.Chart
}

// AddChart places a chart on the sheet at anchor. Charts are added when the sheet is
// closed, before the stream is flushed: added after it, the chart part exists but the
// sheet never links it, and no spreadsheet shows it.
func (t *Table) AddChart(anchor string, c *excelize.Chart) {
	t.charts = append(t.charts, pendingChart{anchor, c})
}

// AddChartSheet adds a sheet holding only a title and a chart (whose series refer to a
// table's sheet), printed on one A4 landscape page: a chart beside or under a table would
// shrink the table or break across pages when printed.
func (b *Book) AddChartSheet(name, title string, c *excelize.Chart) error {
	// title is the sheet's heading; the chart keeps its own, shorter one.
	name = SheetName(name)
	if err := b.newSheet(name); err != nil {
		return err
	}
	f := b.f
	fit := true
	if err := f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	show := false
	if err := f.SetSheetView(name, 0, &excelize.ViewOptions{ShowGridLines: &show}); err != nil {
		return err
	}
	if c.Dimension.Width == 0 {
		c.Dimension = excelize.ChartDimension{Width: 960, Height: 540}
	}
	// The heading spans the chart's width (the title style wraps within its cell).
	end, _ := excelize.CoordinatesToCellName(int(c.Dimension.Width)/64, 1)
	if err := f.MergeCell(name, "A1", end); err != nil {
		return err
	}
	if err := f.SetCellValue(name, "A1", title); err != nil {
		return err
	}
	if err := f.SetCellStyle(name, "A1", end, b.title); err != nil {
		return err
	}
	if err := f.SetRowHeight(name, 1, 28); err != nil {
		return err
	}
	if err := f.AddChart(name, "A3", c); err != nil {
		return err
	}
	// Default columns are 64 px wide and rows 20 px high (LibreOffice's are lower: leave
	// room so the chart's legend is inside the print area).
	cols := int(c.Dimension.Width)/64 + 1
	rows := int(c.Dimension.Height)/16 + 4
	return b.pageSetup(name, title, "landscape", 0, cols, rows, 1)
}

// Close adds the autofilter, print setup, color scales and charts, then flushes the sheet.
func (t *Table) Close(colorScaleCols ...int) error {
	f := t.b.f
	end := t.dataEnd()
	for _, c := range t.charts {
		if err := f.AddChart(t.name, c.anchor, c.chart); err != nil {
			return err
		}
	}
	last, _ := excelize.ColumnNumberToName(max(len(t.cols), 1))
	if err := f.AutoFilter(t.name, fmt.Sprintf("A%d:%s%d", t.first, last, max(end, t.first)), nil); err != nil {
		return err
	}
	if err := t.b.pageSetup(t.name, t.title, "landscape", t.first, len(t.cols), t.row, 0); err != nil {
		return err
	}
	for _, c := range colorScaleCols {
		col, _ := excelize.ColumnNumberToName(c + 1)
		if end > t.first {
			if err := f.SetConditionalFormat(t.name, fmt.Sprintf("%s%d:%s%d", col, t.first+1, col, end), []excelize.ConditionalFormatOptions{{
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
