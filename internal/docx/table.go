package docx

import (
	"bytes"
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"
)

// Table is a table of text cells under a header row that repeats at the top of every
// page it runs onto. Rows never break across pages.
type Table struct {
	Header []string
	Rows   [][]string
	// Align is each column's alignment (missing: left); numbers read best right-aligned.
	Align []Align
	// Widths are the columns' relative widths; nil sizes them by their content.
	Widths []float64
	// Bold, when set, says which cells to set in bold (a school behind the gate).
	Bold func(row, col int) bool
	// Merge lists columns in which a cell equal to the one above is merged with it (a
	// group's name written once beside its rows).
	Merge []int
}

// Table appends a table across the text block's width.
func (d *Document) Table(t Table) {
	n := len(t.Header)
	for _, r := range t.Rows {
		if len(r) > n {
			n = len(r)
		}
	}
	if n == 0 {
		return
	}
	widths := columnWidths(t, n)
	b := &d.body
	b.WriteString(`<w:tbl><w:tblPr><w:tblStyle w:val="TableGrid"/>`)
	fmt.Fprintf(b, `<w:tblW w:w="%d" w:type="dxa"/><w:jc w:val="center"/><w:tblLayout w:type="fixed"/>`, TextWidth)
	b.WriteString(`<w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr><w:tblGrid>`)
	for _, w := range widths {
		fmt.Fprintf(b, `<w:gridCol w:w="%d"/>`, w)
	}
	b.WriteString(`</w:tblGrid>`)
	if len(t.Header) > 0 {
		b.WriteString(`<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>`)
		for c := 0; c < n; c++ {
			text := ""
			if c < len(t.Header) {
				text = t.Header[c]
			}
			cell(b, widths[c], StyleTableHeader, Center, `<w:shd w:val="clear" w:color="auto" w:fill="D9D9D9"/>`, Run{Text: text})
		}
		b.WriteString(`</w:tr>`)
	}
	for i, row := range t.Rows {
		b.WriteString(`<w:tr><w:trPr><w:cantSplit/></w:trPr>`)
		for c := 0; c < n; c++ {
			text := ""
			if c < len(row) {
				text = row[c]
			}
			a := Left
			if c < len(t.Align) {
				a = t.Align[c]
			}
			bold := t.Bold != nil && t.Bold(i, c)
			merge := ""
			if t.merges(c) && text != "" {
				switch {
				case i > 0 && c < len(t.Rows[i-1]) && t.Rows[i-1][c] == text:
					merge, text = `<w:vMerge/>`, ""
				case i+1 < len(t.Rows) && c < len(t.Rows[i+1]) && t.Rows[i+1][c] == text:
					merge = `<w:vMerge w:val="restart"/>`
				}
			}
			cell(b, widths[c], StyleTableText, a, merge, Run{Text: text, Bold: bold})
		}
		b.WriteString(`</w:tr>`)
	}
	b.WriteString(`</w:tbl>`)
	// A table is followed by a paragraph (Word requires one before the section's end, and
	// two tables in a row would merge into one).
	b.WriteString(`<w:p><w:pPr><w:pStyle w:val="` + StyleTableText + `"/></w:pPr></w:p>`)
}

func (t Table) merges(c int) bool {
	for _, m := range t.Merge {
		if m == c {
			return true
		}
	}
	return false
}

// cell writes one cell; extra is tcPr content between the width and the alignment
// (vMerge, then shd, in the schema's order).
func cell(b *bytes.Buffer, width int, style string, a Align, extra string, r Run) {
	fmt.Fprintf(b, `<w:tc><w:tcPr><w:tcW w:w="%d" w:type="dxa"/>%s<w:vAlign w:val="center"/></w:tcPr>`, width, extra)
	b.WriteString(`<w:p><w:pPr><w:pStyle w:val="` + style + `"/><w:jc w:val="` + a.val() + `"/></w:pPr>`)
	writeRun(b, r)
	b.WriteString(`</w:p></w:tc>`)
}

// columnWidths shares the text block's width among n columns: by the given weights, else
// by each column's widest text (a CJK character counting two), a header's width counting
// half (it may wrap onto two lines), every column at least three characters wide.
func columnWidths(t Table, n int) []int {
	weights := make([]float64, n)
	if len(t.Widths) == n {
		copy(weights, t.Widths)
	} else {
		for c := 0; c < n; c++ {
			w := 0.0
			for _, r := range t.Rows {
				if c < len(r) {
					w = math.Max(w, displayWidth(r[c]))
				}
			}
			w += 2 // the cell's margins
			if c < len(t.Header) {
				// a header may wrap onto two lines, never three
				w = math.Max(w, math.Ceil(displayWidth(t.Header[c])/2)+2)
			}
			weights[c] = math.Min(math.Max(w, 6), 32)
		}
	}
	total := 0.0
	for _, w := range weights {
		total += w
	}
	out := make([]int, n)
	used := 0
	for c := range weights {
		out[c] = int(float64(TextWidth) * weights[c] / total)
		used += out[c]
	}
	out[n-1] += TextWidth - used
	return out
}

// displayWidth is text's width in half-width characters: a Chinese character is two.
func displayWidth(s string) float64 {
	w := 0.0
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		if unicode.Is(unicode.Han, r) || r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF {
			w += 2
		} else {
			w++
		}
	}
	return w
}
