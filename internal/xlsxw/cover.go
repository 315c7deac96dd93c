package xlsxw

import (
	"fmt"

	"github.com/xuri/excelize/v2"
)

type coverStyles struct {
	title, subtitle, section, label, value, sign int
	kinds                                        map[Kind]int // typed values, left-aligned
}

// Field is one label/value line of a cover: a title-block entry or a headline figure,
// its value written by Kind (a count stays a number, a rate a percentage).
type Field struct {
	Label string
	Value any
	Kind  Kind
}

// Section is a headed group of fields on a cover.
type Section struct {
	Heading string
	Fields  []Field
}

// Cover is a workbook's first sheet: the report's title, its title block, headline
// figures, notes, the sheets inside and a 审核/签字 block, on one A4 portrait page.
type Cover struct {
	Sheet    string // sheet name, e.g. 封面
	Title    string // 中小学教师信息技术应用能力提升工程2.0 月报
	Subtitle string // 2025年6月 · 东湖区
	Sections []Section
	Notes    []string // below the sections, e.g. which schools' figures are stale
	Sign     []string // the signature lines, each a row
}

// cover columns: a margin, the label, and the value spread over three columns.
var coverWidths = []float64{3, 26, 22, 22, 22}

// AddCover writes the cover sheet. Call it before any table so that it comes first.
func (b *Book) AddCover(c Cover) error {
	name := SheetName(c.Sheet)
	if err := b.newSheet(name); err != nil {
		return err
	}
	f := b.f
	fit := true
	if err := f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	for i, w := range coverWidths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(name, col, col, w); err != nil {
			return err
		}
	}
	show := false
	if err := f.SetSheetView(name, 0, &excelize.ViewOptions{ShowGridLines: &show}); err != nil {
		return err
	}
	row := 2
	merged := func(style int, text string, height float64) error {
		a, e := fmt.Sprintf("B%d", row), fmt.Sprintf("E%d", row)
		if err := f.MergeCell(name, a, e); err != nil {
			return err
		}
		if err := f.SetCellValue(name, a, text); err != nil {
			return err
		}
		if err := f.SetCellStyle(name, a, e, style); err != nil {
			return err
		}
		err := f.SetRowHeight(name, row, height)
		row++
		return err
	}
	if err := merged(b.cover.title, c.Title, 60); err != nil {
		return err
	}
	if c.Subtitle != "" {
		if err := merged(b.cover.subtitle, c.Subtitle, 28); err != nil {
			return err
		}
	}
	row++
	for _, s := range c.Sections {
		if s.Heading != "" {
			if err := merged(b.cover.section, s.Heading, 30); err != nil {
				return err
			}
		}
		for _, fl := range s.Fields {
			if err := b.coverField(name, row, fl); err != nil {
				return err
			}
			row++
		}
		row++
	}
	for _, n := range c.Notes {
		if err := merged(b.note, n, 20*float64(lines(n, 90))); err != nil {
			return err
		}
	}
	if len(c.Sign) > 0 {
		row++
		for _, s := range c.Sign {
			if err := merged(b.cover.sign, s, 40); err != nil {
				return err
			}
		}
	}
	return b.pageSetup(name, c.Title, "portrait", 0, len(coverWidths), row, 1)
}

// coverField writes a label in B and its value over C:E.
func (b *Book) coverField(sheet string, row int, fl Field) error {
	f := b.f
	lab, val, end := fmt.Sprintf("B%d", row), fmt.Sprintf("C%d", row), fmt.Sprintf("E%d", row)
	if err := f.SetCellValue(sheet, lab, fl.Label); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, lab, lab, b.cover.label); err != nil {
		return err
	}
	if err := f.MergeCell(sheet, val, end); err != nil {
		return err
	}
	v := cellValue(fl.Value)
	if v == nil {
		v = "—"
	}
	if err := f.SetCellValue(sheet, val, v); err != nil {
		return err
	}
	style := b.cover.value
	if fl.Kind != Text && fl.Value != nil {
		style = b.cover.kinds[fl.Kind]
	}
	if err := f.SetCellStyle(sheet, val, end, style); err != nil {
		return err
	}
	h := 22.0
	if s, ok := v.(string); ok {
		h = max(h, 18*float64(lines(s, 66)))
	}
	return f.SetRowHeight(sheet, row, h)
}
