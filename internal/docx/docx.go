// Package docx writes the Word documents offices file (WordprocessingML, ECMA-376
// transitional): real paragraph styles in the 公文 layout of GB/T 9704-2012 (a heading is a
// heading in Word's navigation pane, and restyling one style restyles the document), a
// font table whose entries name the fonts offices have and what to use without them, A4
// with the standard margins, page numbers as 「— 1 —」 on the outside edge, tables whose
// header row repeats on every page, a marked style for text the office must write itself,
// and native charts (chart parts with their values cached and the workbook behind them
// embedded, so Word's 编辑数据 works).
//
// No openly licensed Go library writes such documents (unioffice is paid; gooxml is not
// available), so this is a small writer of its own, in the spirit of internal/xlsxw: the
// document is built in order, and Write streams the package to an io.Writer.
package docx

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Paragraph style IDs (styles.xml). The names Word shows are Chinese, with the built-in
// headings keeping their English names so that Word maps them to its own heading levels.
const (
	StyleNormal      = "Normal"      // 正文: 仿宋_GB2312 3号, first line indented two characters
	StyleTitle       = "Title"       // 标题: 小标宋 2号, centred
	StyleSubtitle    = "Subtitle"    // 副标题: 楷体 3号, centred (scope and date under the title)
	StyleHeading1    = "Heading1"    // 「一、」黑体 3号, outline level 1
	StyleHeading2    = "Heading2"    // 「（一）」楷体 3号, outline level 2
	StyleHeading3    = "Heading3"    // 「1.」仿宋 3号 bold, outline level 3
	StylePrompt      = "Prompt"      // 待填写: text the office writes itself, red on yellow with a left bar
	StyleNote        = "Note"        // 说明: 仿宋 4号, for data notes under a paragraph or table
	StyleCaption     = "Caption"     // 题注: 黑体 4号, centred, above a table or chart
	StyleTableText   = "TableText"   // 表格文字: 仿宋 五号, single spaced, no indent
	StyleTableHeader = "TableHeader" // 表头: 黑体 五号, centred
	StyleClosing     = "Closing"     // 落款: right-aligned, four characters from the edge
	StyleFooter      = "Footer"      // 页脚: the page number
)

// Align is a paragraph's or table cell's horizontal alignment.
type Align int

const (
	Left Align = iota
	Center
	Right
	Both // justified: the body's default
)

func (a Align) val() string {
	return [...]string{"left", "center", "right", "both"}[a]
}

// Run is a piece of text with its own emphasis.
type Run struct {
	Text string
	Bold bool
	// Mark highlights the run as text still to be written (the prompt's colours), inside
	// an ordinary paragraph.
	Mark bool
}

// Meta is the document's properties (File ▸ Properties in Word).
type Meta struct {
	Title   string
	Subject string
	Creator string
	Created time.Time // zero: now
	// Compact sets the body in 4号 and the title in 小二 instead of GB/T 9704's 3号 and 2号:
	// for a form that must fit one or two pages (a school's SWOT diagnosis), not for a
	// 公文 filed with a department.
	Compact bool
}

// Document is a Word document being built, block by block, in reading order.
type Document struct {
	meta    Meta
	body    bytes.Buffer
	charts  []*chartPart
	shapeID int
	err     error
}

// New starts an empty document.
func New(m Meta) *Document {
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	return &Document{meta: m}
}

// Err is the first error met while building (a chart that could not be made); Write
// returns it too.
func (d *Document) Err() error { return d.err }

// P appends a paragraph of the given style made of runs.
func (d *Document) P(style string, runs ...Run) {
	d.para(style, -1, runs)
}

// PAlign appends a paragraph of the given style with its own alignment.
func (d *Document) PAlign(style string, a Align, runs ...Run) {
	d.para(style, a, runs)
}

// Text appends a body paragraph of plain text.
func (d *Document) Text(s string) { d.P(StyleNormal, Run{Text: s}) }

// Title appends the document's title; a "\n" breaks it into lines (公文 titles of two
// lines are broken by meaning, not by width).
func (d *Document) Title(s string) { d.P(StyleTitle, Run{Text: s}) }

// Heading appends a heading of level 1 to 3; the text carries its own number (一、, （一）,
// 1.), as 公文 write them.
func (d *Document) Heading(level int, s string) {
	style := StyleHeading1
	switch level {
	case 2:
		style = StyleHeading2
	case 3:
		style = StyleHeading3
	}
	d.P(style, Run{Text: s})
}

// Prompt appends a paragraph the office must write itself: it is shown in the prompt
// style so that nobody files it unwritten.
func (d *Document) Prompt(s string) { d.P(StylePrompt, Run{Text: s}) }

// Note appends a note in the smaller note style.
func (d *Document) Note(s string) { d.P(StyleNote, Run{Text: s}) }

// Caption appends the caption of the table or chart that follows.
func (d *Document) Caption(s string) { d.P(StyleCaption, Run{Text: s}) }

// Closing appends the issuing unit and date, right-aligned, one line each.
func (d *Document) Closing(lines ...string) {
	for _, l := range lines {
		d.P(StyleClosing, Run{Text: l})
	}
}

// PageBreak starts a new page.
func (d *Document) PageBreak() {
	d.body.WriteString(`<w:p><w:pPr><w:pStyle w:val="Normal"/><w:ind w:firstLineChars="0" w:firstLine="0"/></w:pPr><w:r><w:br w:type="page"/></w:r></w:p>`)
}

func (d *Document) para(style string, a Align, runs []Run) {
	b := &d.body
	b.WriteString(`<w:p><w:pPr><w:pStyle w:val="`)
	b.WriteString(style)
	b.WriteString(`"/>`)
	if a >= 0 {
		b.WriteString(`<w:jc w:val="` + a.val() + `"/>`)
	}
	b.WriteString(`</w:pPr>`)
	for _, r := range runs {
		writeRun(b, r)
	}
	b.WriteString(`</w:p>`)
}

// writeRun writes a run; "\n" becomes a line break and "\t" a tab.
func writeRun(b *bytes.Buffer, r Run) {
	if r.Text == "" {
		return
	}
	// rStyle comes first in rPr (the schema's order)
	rpr := ""
	if r.Mark {
		rpr += `<w:rStyle w:val="PromptChar"/>`
	}
	if r.Bold {
		rpr += `<w:b/><w:bCs/>`
	}
	b.WriteString(`<w:r>`)
	if rpr != "" {
		b.WriteString(`<w:rPr>` + rpr + `</w:rPr>`)
	}
	for i, line := range strings.Split(r.Text, "\n") {
		if i > 0 {
			b.WriteString(`<w:br/>`)
		}
		for j, part := range strings.Split(line, "\t") {
			if j > 0 {
				b.WriteString(`<w:tab/>`)
			}
			if part == "" {
				continue
			}
			b.WriteString(`<w:t xml:space="preserve">`)
			escape(b, part)
			b.WriteString(`</w:t>`)
		}
	}
	b.WriteString(`</w:r>`)
}

// escape writes s as XML character data. Characters XML 1.0 forbids (control characters
// a platform export may carry) are dropped: one of them would make the whole document
// unreadable.
func escape(b *bytes.Buffer, s string) {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r == utf8.RuneError && n == 1:
			b.WriteRune('\uFFFD')
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
		case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		default:
			b.WriteRune(r)
		}
	}
}

func esc(s string) string {
	var b bytes.Buffer
	escape(&b, s)
	return b.String()
}

// Page geometry, in twentieths of a point (twips) and EMU. A4 is 210 × 297 mm; GB/T
// 9704's margins (37 top, 35 bottom, 28 left, 26 right) leave the 156 × 225 mm text block.
const (
	mmTwips      = 1440.0 / 25.4
	pageW        = 11906
	pageH        = 16838
	marginTop    = 2098 // 37 mm
	marginBottom = 1984 // 35 mm
	marginLeft   = 1587 // 28 mm
	marginRight  = 1474 // 26 mm
	// The page number sits about 7 mm below the text block: its line's foot about 23 mm
	// from the paper's edge.
	footerDist = 1304
	// TextWidth is the text block's width in twips (156 mm).
	TextWidth  = pageW - marginLeft - marginRight
	emuPerTwip = 635
)

func (d *Document) layout() layout {
	if d.meta.Compact {
		return compact
	}
	return standard
}

// Write streams the document to w as a .docx package.
func (d *Document) Write(w io.Writer) error {
	if d.err != nil {
		return d.err
	}
	z := zip.NewWriter(w)
	put := func(name string, data []byte) error {
		f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: d.meta.Created})
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return err
	}
	parts := []struct {
		name string
		data []byte
	}{
		{"[Content_Types].xml", d.contentTypes()},
		{"_rels/.rels", []byte(rootRels)},
		{"docProps/core.xml", d.core()},
		{"docProps/app.xml", []byte(appXML)},
		{"word/_rels/document.xml.rels", d.documentRels()},
		{"word/document.xml", d.document()},
		{"word/styles.xml", []byte(stylesXML(d.layout()))},
		{"word/fontTable.xml", []byte(fontTableXML)},
		{"word/settings.xml", []byte(settingsXML)},
		{"word/footer1.xml", footer(Right)},
		{"word/footer2.xml", footer(Left)},
	}
	for _, p := range parts {
		if err := put(p.name, p.data); err != nil {
			return fmt.Errorf("docx: %s: %w", p.name, err)
		}
	}
	for i, c := range d.charts {
		n := i + 1
		if err := put(fmt.Sprintf("word/charts/chart%d.xml", n), c.xml); err != nil {
			return fmt.Errorf("docx: chart %d: %w", n, err)
		}
		if err := put(fmt.Sprintf("word/charts/_rels/chart%d.xml.rels", n), chartRels(n)); err != nil {
			return err
		}
		if err := put(fmt.Sprintf("word/embeddings/chart%d_data.xlsx", n), c.workbook); err != nil {
			return err
		}
	}
	return z.Close()
}

const (
	nsW   = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsR   = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsWP  = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
	nsA   = "http://schemas.openxmlformats.org/drawingml/2006/main"
	nsC   = "http://schemas.openxmlformats.org/drawingml/2006/chart"
	nsRel = "http://schemas.openxmlformats.org/package/2006/relationships"
	relOD = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

const rootRels = xmlHeader + `<Relationships xmlns="` + nsRel + `">` +
	`<Relationship Id="rId1" Type="` + relOD + `officeDocument" Target="word/document.xml"/>` +
	`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>` +
	`<Relationship Id="rId3" Type="` + relOD + `extended-properties" Target="docProps/app.xml"/>` +
	`</Relationships>`

const appXML = xmlHeader + `<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">` +
	`<Application>tisheng</Application><DocSecurity>0</DocSecurity></Properties>`

func (d *Document) core() []byte {
	ts := d.meta.Created.UTC().Format("2006-01-02T15:04:05Z")
	return []byte(xmlHeader + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<dc:title>` + esc(d.meta.Title) + `</dc:title><dc:subject>` + esc(d.meta.Subject) + `</dc:subject>` +
		`<dc:creator>` + esc(d.meta.Creator) + `</dc:creator><dc:language>zh-CN</dc:language>` +
		`<dcterms:created xsi:type="dcterms:W3CDTF">` + ts + `</dcterms:created>` +
		`<dcterms:modified xsi:type="dcterms:W3CDTF">` + ts + `</dcterms:modified></cp:coreProperties>`)
}

func (d *Document) contentTypes() []byte {
	var b strings.Builder
	b.WriteString(xmlHeader + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">`)
	b.WriteString(`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>`)
	b.WriteString(`<Default Extension="xml" ContentType="application/xml"/>`)
	b.WriteString(`<Default Extension="xlsx" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"/>`)
	over := func(part, ct string) {
		b.WriteString(`<Override PartName="` + part + `" ContentType="` + ct + `"/>`)
	}
	wml := "application/vnd.openxmlformats-officedocument.wordprocessingml."
	over("/word/document.xml", wml+"document.main+xml")
	over("/word/styles.xml", wml+"styles+xml")
	over("/word/settings.xml", wml+"settings+xml")
	over("/word/fontTable.xml", wml+"fontTable+xml")
	over("/word/footer1.xml", wml+"footer+xml")
	over("/word/footer2.xml", wml+"footer+xml")
	over("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml")
	over("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml")
	for i := range d.charts {
		over(fmt.Sprintf("/word/charts/chart%d.xml", i+1), "application/vnd.openxmlformats-officedocument.drawingml.chart+xml")
	}
	b.WriteString(`</Types>`)
	return []byte(b.String())
}

// Relationship ids of document.xml: fixed parts first, then one per chart.
const (
	ridStyles     = "rId1"
	ridSettings   = "rId2"
	ridFontTable  = "rId3"
	ridFooterOdd  = "rId4"
	ridFooterEven = "rId5"
)

func chartRID(n int) string { return fmt.Sprintf("rId%d", 10+n) }

func (d *Document) documentRels() []byte {
	var b strings.Builder
	b.WriteString(xmlHeader + `<Relationships xmlns="` + nsRel + `">`)
	rel := func(id, typ, target string) {
		b.WriteString(`<Relationship Id="` + id + `" Type="` + relOD + typ + `" Target="` + target + `"/>`)
	}
	rel(ridStyles, "styles", "styles.xml")
	rel(ridSettings, "settings", "settings.xml")
	rel(ridFontTable, "fontTable", "fontTable.xml")
	rel(ridFooterOdd, "footer", "footer1.xml")
	rel(ridFooterEven, "footer", "footer2.xml")
	for i := range d.charts {
		rel(chartRID(i+1), "chart", fmt.Sprintf("charts/chart%d.xml", i+1))
	}
	b.WriteString(`</Relationships>`)
	return []byte(b.String())
}

func (d *Document) document() []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<w:document xmlns:w="` + nsW + `" xmlns:r="` + nsR + `" xmlns:wp="` + nsWP + `" xmlns:a="` + nsA + `" xmlns:c="` + nsC + `"><w:body>`)
	b.Write(d.body.Bytes())
	fmt.Fprintf(&b, `<w:sectPr><w:footerReference w:type="default" r:id="%s"/><w:footerReference w:type="even" r:id="%s"/>`+
		`<w:pgSz w:w="%d" w:h="%d"/><w:pgMar w:top="%d" w:right="%d" w:bottom="%d" w:left="%d" w:header="851" w:footer="%d" w:gutter="0"/>`+
		`<w:cols w:space="425"/><w:docGrid w:linePitch="579"/></w:sectPr>`,
		ridFooterOdd, ridFooterEven, pageW, pageH, marginTop, marginRight, marginBottom, marginLeft, footerDist)
	b.WriteString(`</w:body></w:document>`)
	return b.Bytes()
}

// footer is the page number as 「— 1 —」 (a PAGE field), on the outside edge one
// character in: odd pages on the right, even pages on the left (GB/T 9704 §7.5).
func footer(a Align) []byte {
	ind := `<w:ind w:right="280"/>`
	if a == Left {
		ind = `<w:ind w:left="280"/>`
	}
	return []byte(xmlHeader + `<w:ftr xmlns:w="` + nsW + `" xmlns:r="` + nsR + `"><w:p><w:pPr><w:pStyle w:val="` + StyleFooter + `"/>` + ind + `<w:jc w:val="` + a.val() + `"/></w:pPr>` +
		`<w:r><w:t xml:space="preserve">— </w:t></w:r>` +
		`<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>` +
		`<w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>` +
		`<w:r><w:t xml:space="preserve"> —</w:t></w:r></w:p></w:ftr>`)
}
