package docx

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// ChartKind is a chart's type.
type ChartKind int

const (
	Bar  ChartKind = iota // clustered columns
	Line                  // lines with markers
)

// Series is one series of a chart; NaN is a missing value (a gap).
type Series struct {
	Name   string
	Values []float64
}

// Chart is a native Word chart: its values are cached in the chart part (what Word, WPS
// and LibreOffice draw) and kept in a workbook embedded beside it (what Word's 编辑数据
// opens), so the office can restyle it or change its figures.
type Chart struct {
	Kind       ChartKind
	Title      string
	Categories []string
	Series     []Series
	// Percent: the values are fractions, drawn on a 0–100% axis and labelled 0.0%;
	// otherwise counts on an axis from 0.
	Percent bool
	// Labels writes each value on its bar or point.
	Labels bool
	// HeightMM is the chart's height (default 85 mm); it is as wide as the text block.
	HeightMM float64
	// AltText describes the chart for a screen reader.
	AltText string
}

type chartPart struct {
	xml, workbook []byte
}

// palette: dark enough to print in black and white as distinct greys.
var palette = []string{"2F5597", "C55A11", "7F7F7F", "548235", "BF9000", "7030A0"}

// Chart appends a chart across the text block, in a paragraph of its own.
func (d *Document) Chart(c Chart) {
	if d.err != nil {
		return
	}
	if err := c.check(); err != nil {
		d.err = fmt.Errorf("docx: chart %q: %w", c.Title, err)
		return
	}
	wb, err := c.workbook()
	if err != nil {
		d.err = fmt.Errorf("docx: chart %q: %w", c.Title, err)
		return
	}
	d.charts = append(d.charts, &chartPart{xml: c.xml(), workbook: wb})
	n := len(d.charts)
	d.shapeID++
	h := c.HeightMM
	if h <= 0 {
		h = 85
	}
	cx := TextWidth * emuPerTwip
	cy := int(h * 36000)
	alt := c.AltText
	if alt == "" {
		alt = c.Title
	}
	fmt.Fprintf(&d.body, `<w:p><w:pPr><w:pStyle w:val="%s"/><w:keepLines/><w:jc w:val="center"/></w:pPr><w:r><w:drawing>`+
		`<wp:inline distT="0" distB="0" distL="0" distR="0"><wp:extent cx="%d" cy="%d"/><wp:effectExtent l="0" t="0" r="0" b="0"/>`+
		`<wp:docPr id="%d" name="图表 %d" descr="%s"/><wp:cNvGraphicFramePr/>`+
		`<a:graphic><a:graphicData uri="%s"><c:chart r:id="%s"/></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>`,
		StyleTableText, cx, cy, d.shapeID, n, esc(alt), nsC, chartRID(n))
}

func (c Chart) check() error {
	if len(c.Categories) == 0 {
		return errors.New("no categories")
	}
	if len(c.Series) == 0 {
		return errors.New("no series")
	}
	for _, s := range c.Series {
		if len(s.Values) != len(c.Categories) {
			return fmt.Errorf("series %q has %d values for %d categories", s.Name, len(s.Values), len(c.Categories))
		}
		for _, v := range s.Values {
			if math.IsInf(v, 0) {
				return fmt.Errorf("series %q: infinite value", s.Name)
			}
		}
	}
	return nil
}

// The embedded workbook's layout: categories down column A from row 2, one series per
// column from B, series names in row 1. The chart's formulas point there.
const dataSheet = "Sheet1"

func colName(i int) string {
	n, _ := excelize.ColumnNumberToName(i + 1)
	return n
}

func (c Chart) catRef() string {
	return fmt.Sprintf("%s!$A$2:$A$%d", dataSheet, len(c.Categories)+1)
}

func (c Chart) valRef(s int) string {
	col := colName(s + 1)
	return fmt.Sprintf("%s!$%s$2:$%s$%d", dataSheet, col, col, len(c.Categories)+1)
}

func (c Chart) nameRef(s int) string {
	return fmt.Sprintf("%s!$%s$1", dataSheet, colName(s+1))
}

func (c Chart) workbook() ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	pct, err := f.NewStyle(&excelize.Style{NumFmt: 10}) // 0.00%: the cache's digits, unrounded
	if err != nil {
		return nil, err
	}
	for i, cat := range c.Categories {
		if err := f.SetCellStr(dataSheet, fmt.Sprintf("A%d", i+2), cat); err != nil {
			return nil, err
		}
	}
	for s, ser := range c.Series {
		col := colName(s + 1)
		if err := f.SetCellStr(dataSheet, col+"1", ser.Name); err != nil {
			return nil, err
		}
		for i, v := range ser.Values {
			if math.IsNaN(v) {
				continue
			}
			cell := fmt.Sprintf("%s%d", col, i+2)
			if err := f.SetCellFloat(dataSheet, cell, v, -1, 64); err != nil {
				return nil, err
			}
			if c.Percent {
				if err := f.SetCellStyle(dataSheet, cell, cell, pct); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := f.SetColWidth(dataSheet, "A", "A", 18); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func chartRels(n int) []byte {
	return []byte(xmlHeader + `<Relationships xmlns="` + nsRel + `"><Relationship Id="rId1" Type="` + relOD + `package" Target="../embeddings/chart` + strconv.Itoa(n) + `_data.xlsx"/></Relationships>`)
}

// text properties: black, the Chinese text in 宋体 (a face every office machine has, and
// LibreOffice replaces with a CJK face where it is missing).
func txPr(sz int, bold bool) string {
	b := "0"
	if bold {
		b = "1"
	}
	return fmt.Sprintf(`<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="%d" b="%s"><a:solidFill><a:srgbClr val="000000"/></a:solidFill>`+
		`<a:latin typeface="%s"/><a:ea typeface="%s"/></a:defRPr></a:pPr><a:endParaRPr lang="zh-CN"/></a:p></c:txPr>`, sz, b, FontLatin, FontSong)
}

func (c Chart) xml() []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<c:chartSpace xmlns:c="` + nsC + `" xmlns:a="` + nsA + `" xmlns:r="` + nsR + `">`)
	b.WriteString(`<c:date1904 val="0"/><c:lang val="zh-CN"/><c:roundedCorners val="0"/><c:chart>`)
	if c.Title != "" {
		fmt.Fprintf(&b, `<c:title><c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="1200" b="1"/></a:pPr>`+
			`<a:r><a:rPr lang="zh-CN" sz="1200" b="1"><a:solidFill><a:srgbClr val="000000"/></a:solidFill><a:latin typeface="%s"/><a:ea typeface="%s"/></a:rPr><a:t>%s</a:t></a:r></a:p></c:rich></c:tx>`+
			`<c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/>`, FontLatin, FontHei, esc(c.Title))
	} else {
		b.WriteString(`<c:autoTitleDeleted val="1"/>`)
	}
	b.WriteString(`<c:plotArea><c:layout/>`)
	numFmt := "#,##0"
	if c.Percent {
		numFmt = "0.0%"
	}
	if c.Kind == Line {
		b.WriteString(`<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>`)
	} else {
		b.WriteString(`<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>`)
	}
	for s, ser := range c.Series {
		color := palette[s%len(palette)]
		fmt.Fprintf(&b, `<c:ser><c:idx val="%d"/><c:order val="%d"/>`, s, s)
		fmt.Fprintf(&b, `<c:tx><c:strRef><c:f>%s</c:f><c:strCache><c:ptCount val="1"/><c:pt idx="0"><c:v>%s</c:v></c:pt></c:strCache></c:strRef></c:tx>`, c.nameRef(s), esc(ser.Name))
		if c.Kind == Line {
			fmt.Fprintf(&b, `<c:spPr><a:ln w="28575" cap="rnd"><a:solidFill><a:srgbClr val="%s"/></a:solidFill><a:round/></a:ln></c:spPr>`, color)
			fmt.Fprintf(&b, `<c:marker><c:symbol val="%s"/><c:size val="6"/><c:spPr><a:solidFill><a:srgbClr val="%s"/></a:solidFill><a:ln w="9525"><a:solidFill><a:srgbClr val="%s"/></a:solidFill></a:ln></c:spPr></c:marker>`,
				[]string{"circle", "square", "triangle", "diamond"}[s%4], color, color)
		} else {
			fmt.Fprintf(&b, `<c:spPr><a:solidFill><a:srgbClr val="%s"/></a:solidFill><a:ln><a:noFill/></a:ln></c:spPr><c:invertIfNegative val="0"/>`, color)
		}
		if c.Labels {
			pos := "outEnd"
			if c.Kind == Line {
				pos = "t"
			}
			fmt.Fprintf(&b, `<c:dLbls><c:numFmt formatCode="%s" sourceLinked="0"/><c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr>%s<c:dLblPos val="%s"/>`+
				`<c:showLegendKey val="0"/><c:showVal val="1"/><c:showCatName val="0"/><c:showSerName val="0"/><c:showPercent val="0"/><c:showBubbleSize val="0"/></c:dLbls>`,
				esc(numFmt), txPr(800, false), pos)
		}
		fmt.Fprintf(&b, `<c:cat><c:strRef><c:f>%s</c:f><c:strCache><c:ptCount val="%d"/>`, c.catRef(), len(c.Categories))
		for i, cat := range c.Categories {
			fmt.Fprintf(&b, `<c:pt idx="%d"><c:v>%s</c:v></c:pt>`, i, esc(cat))
		}
		b.WriteString(`</c:strCache></c:strRef></c:cat>`)
		fmt.Fprintf(&b, `<c:val><c:numRef><c:f>%s</c:f><c:numCache><c:formatCode>%s</c:formatCode><c:ptCount val="%d"/>`, c.valRef(s), esc(numFmt), len(c.Categories))
		for i, v := range ser.Values {
			if math.IsNaN(v) {
				continue
			}
			fmt.Fprintf(&b, `<c:pt idx="%d"><c:v>%s</c:v></c:pt>`, i, strconv.FormatFloat(v, 'g', -1, 64))
		}
		b.WriteString(`</c:numCache></c:numRef></c:val>`)
		if c.Kind == Line {
			b.WriteString(`<c:smooth val="0"/>`)
		}
		b.WriteString(`</c:ser>`)
	}
	if c.Kind == Line {
		b.WriteString(`<c:marker val="1"/><c:axId val="500001"/><c:axId val="500002"/></c:lineChart>`)
	} else {
		b.WriteString(`<c:gapWidth val="80"/><c:overlap val="-10"/><c:axId val="500001"/><c:axId val="500002"/></c:barChart>`)
	}
	axisLine := `<c:spPr><a:ln w="9525"><a:solidFill><a:srgbClr val="000000"/></a:solidFill></a:ln></c:spPr>`
	b.WriteString(`<c:catAx><c:axId val="500001"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/><c:axPos val="b"/>` +
		`<c:numFmt formatCode="General" sourceLinked="1"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="low"/>` +
		axisLine + txPr(900, false) + `<c:crossAx val="500002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/><c:lblOffset val="100"/>` +
		`<c:tickLblSkip val="1"/><c:noMultiLvlLbl val="0"/></c:catAx>`)
	scaling := `<c:scaling><c:orientation val="minMax"/><c:min val="0"/></c:scaling>`
	axisFmt, unit := "#,##0", ""
	if c.Percent {
		scaling = `<c:scaling><c:orientation val="minMax"/><c:max val="1"/><c:min val="0"/></c:scaling>`
		axisFmt, unit = "0%", `<c:majorUnit val="0.2"/>`
	}
	b.WriteString(`<c:valAx><c:axId val="500002"/>` + scaling + `<c:delete val="0"/><c:axPos val="l"/>` +
		`<c:majorGridlines><c:spPr><a:ln w="6350"><a:solidFill><a:srgbClr val="BFBFBF"/></a:solidFill></a:ln></c:spPr></c:majorGridlines>` +
		`<c:numFmt formatCode="` + esc(axisFmt) + `" sourceLinked="0"/><c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>` +
		axisLine + txPr(900, false) + `<c:crossAx val="500001"/><c:crosses val="autoZero"/><c:crossBetween val="between"/>` + unit + `</c:valAx>`)
	b.WriteString(`<c:spPr><a:noFill/><a:ln><a:noFill/></a:ln></c:spPr></c:plotArea>`)
	b.WriteString(`<c:legend><c:legendPos val="b"/><c:overlay val="0"/>` + txPr(900, false) + `</c:legend><c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart>`)
	b.WriteString(`<c:spPr><a:solidFill><a:srgbClr val="FFFFFF"/></a:solidFill><a:ln><a:noFill/></a:ln></c:spPr>`)
	b.WriteString(txPr(1000, false))
	b.WriteString(`<c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData></c:chartSpace>`)
	return []byte(strings.TrimSpace(b.String()))
}
