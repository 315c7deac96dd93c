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
			cell(b, widths[c], StyleTableText, a, "", Run{Text: text, Bold: bold})
		}
		b.WriteString(`</w:tr>`)
	}
	b.WriteString(`</w:tbl>`)
	// A table is followed by a paragraph (Word requires one before the section's end, and
	// two tables in a row would merge into one).
	b.WriteString(`<w:p><w:pPr><w:pStyle w:val="` + StyleTableText + `"/></w:pPr></w:p>`)
}

func cell(b *bytes.Buffer, width int, style string, a Align, shd string, r Run) {
	fmt.Fprintf(b, `<w:tc><w:tcPr><w:tcW w:w="%d" w:type="dxa"/>%s<w:vAlign w:val="center"/></w:tcPr>`, width, shd)
	b.WriteString(`<w:p><w:pPr><w:pStyle w:val="` + style + `"/><w:jc w:val="` + a.val() + `"/></w:pPr>`)
	writeRun(b, r)
	b.WriteString(`</w:p></w:tc>`)
}

// columnWidths shares the text block's width among n columns: by the given weights, else
// by each column's widest text (a CJK character counting two), a header's width counting
// half (it may wrap), every column at least four characters wide.
func columnWidths(t Table, n int) []int {
	weights := make([]float64, n)
	if len(t.Widths) == n {
		copy(weights, t.Widths)
	} else {
		for c := 0; c < n; c++ {
			w := 0.0
			if c < len(t.Header) {
				w = displayWidth(t.Header[c]) / 2
			}
			for _, r := range t.Rows {
				if c < len(r) {
					w = math.Max(w, displayWidth(r[c]))
				}
			}
			weights[c] = math.Min(math.Max(w, 4), 30)
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
