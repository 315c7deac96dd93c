package docx

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"tisheng/internal/testkit/office"
)

// sample is a document using every block the writer has: a title, headings of three
// levels, body text, a prompt, a note, a long table (so that it runs onto another page),
// a bar chart of rates and a line chart of counts, a page break and a closing.
func sample(t *testing.T, rows int) []byte {
	t.Helper()
	d := New(Meta{Title: "示例报告", Creator: "tisheng", Created: time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)})
	d.Title("2025年度东湖区中小学教师信息技术\n应用能力提升工程2.0实施情况报告")
	d.P(StyleSubtitle, Run{Text: "（数据截至2025年6月30日）"})
	d.Heading(1, "一、基本情况")
	d.Text("截至2025年6月，全区共有学校12所，教师1,234人，其中专任教师1,100人。参训率98.7%，完成率87.7%。")
	d.Heading(2, "（一）培训完成情况")
	d.Heading(3, "1.学时")
	d.P(StyleNormal, Run{Text: "人均网络研修 "}, Run{Text: "23.45", Bold: true}, Run{Text: " 学时；需补充的说明：", Mark: false}, Run{Text: "【请填写】", Mark: true})
	d.Prompt("【请填写】本年度主要做法：组织管理、培训团队、整校推进……")
	d.Note("注：完成率为学时达标且能力点测评合格的教师占全部教师的比例。")
	d.Caption("表1 各学校情况")
	tb := Table{Header: []string{"学校", "教师数", "完成率"}, Align: []Align{Left, Right, Right},
		Bold: func(r, c int) bool { return r == 0 }}
	for i := 0; i < rows; i++ {
		tb.Rows = append(tb.Rows, []string{fmt.Sprintf("第%d中学", i+1), fmt.Sprint(100 + i), fmt.Sprintf("%.1f%%", 50+float64(i)/2)})
	}
	d.Table(tb)
	d.Caption("图1 各区县参训率、完成率与合格率")
	d.Chart(Chart{Kind: Bar, Title: "各区县参训率、完成率与合格率", Percent: true, Labels: true,
		Categories: []string{"东湖区", "西山区", "南城区"},
		Series:     []Series{{Name: "参训率", Values: []float64{0.987, 0.95, 0.9}}, {Name: "完成率", Values: []float64{0.877, 0.5, math.NaN()}}}})
	d.PageBreak()
	d.Caption("图2 逐月完成人数")
	d.Chart(Chart{Kind: Line, Title: "逐月完成人数", Categories: []string{"2025-01", "2025-02", "2025-03"},
		Series: []Series{{Name: "完成人数", Values: []float64{10, 250, 1234}}}})
	d.Closing("东湖区教师发展中心", "2025年7月1日")
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteAndReadBack(t *testing.T) {
	data := sample(t, 5)
	if err := Check(data); err != nil {
		t.Fatal(err)
	}
	doc, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range doc.Blocks {
		switch b.Kind {
		case Paragraph:
			if b.Text != "" {
				got = append(got, b.Style+":"+b.Text)
			}
		case TableBlock:
			got = append(got, fmt.Sprintf("table:%d rows, %d header", len(b.Rows), b.HeaderRows))
		case ChartBlock:
			got = append(got, "chart:"+b.Chart.Kind+":"+b.Chart.Title)
		}
	}
	want := []string{
		"Title:2025年度东湖区中小学教师信息技术\n应用能力提升工程2.0实施情况报告",
		"Subtitle:（数据截至2025年6月30日）",
		"Heading1:一、基本情况",
		"Normal:截至2025年6月，全区共有学校12所，教师1,234人，其中专任教师1,100人。参训率98.7%，完成率87.7%。",
		"Heading2:（一）培训完成情况",
		"Heading3:1.学时",
		"Normal:人均网络研修 23.45 学时；需补充的说明：【请填写】",
		"Prompt:【请填写】本年度主要做法：组织管理、培训团队、整校推进……",
		"Note:注：完成率为学时达标且能力点测评合格的教师占全部教师的比例。",
		"Caption:表1 各学校情况",
		"table:6 rows, 1 header",
		"Caption:图1 各区县参训率、完成率与合格率",
		"chart:barChart:各区县参训率、完成率与合格率",
		"Caption:图2 逐月完成人数",
		"chart:lineChart:逐月完成人数",
		"Closing:东湖区教师发展中心",
		"Closing:2025年7月1日",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("blocks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tb := doc.Tables()[0]
	if strings.Join(tb.Rows[0], "|") != "学校|教师数|完成率" || strings.Join(tb.Rows[1], "|") != "第1中学|100|50.0%" {
		t.Errorf("table rows %v", tb.Rows[:2])
	}
	charts := doc.Charts()
	bar := charts[0]
	if strings.Join(bar.Categories, ",") != "东湖区,西山区,南城区" || len(bar.Series) != 2 || bar.Series[0].Name != "参训率" {
		t.Fatalf("bar chart %+v", bar)
	}
	if bar.Series[0].Values[0] != 0.987 || !math.IsNaN(bar.Series[1].Values[2]) {
		t.Errorf("bar values %v", bar.Series)
	}
	// The embedded workbook (Word's 编辑数据) holds the same figures as the chart's cache.
	for _, c := range charts {
		if c.Workbook == "" {
			t.Fatalf("%s: no embedded workbook", c.Title)
		}
		f, err := excelize.OpenReader(bytes.NewReader(doc.Parts[c.Workbook]))
		if err != nil {
			t.Fatal(err)
		}
		for i, cat := range c.Categories {
			if v, _ := f.GetCellValue("Sheet1", fmt.Sprintf("A%d", i+2)); v != cat {
				t.Errorf("%s: A%d = %q, want %q", c.Title, i+2, v, cat)
			}
			for s, ser := range c.Series {
				col, _ := excelize.ColumnNumberToName(s + 2)
				cell := fmt.Sprintf("%s%d", col, i+2)
				raw, _ := f.GetCellValue("Sheet1", cell, excelize.Options{RawCellValue: true})
				if math.IsNaN(ser.Values[i]) {
					if raw != "" {
						t.Errorf("%s %s: %q where the chart has no value", c.Title, cell, raw)
					}
					continue
				}
				if raw != fmt.Sprint(ser.Values[i]) {
					t.Errorf("%s %s: workbook %q, chart %v", c.Title, cell, raw, ser.Values[i])
				}
			}
		}
	}
}

// The layout is the 公文 one, set in styles and section properties an office can change in
// one place.
func TestStylesFontsAndPage(t *testing.T) {
	parts, err := Open(sample(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	styles := string(parts["word/styles.xml"])
	styleOf := func(id string) string {
		re := regexp.MustCompile(`<w:style [^>]*w:styleId="` + id + `">.*?</w:style>`)
		return re.FindString(styles)
	}
	for _, c := range []struct{ id, want string }{
		{"Normal", `w:eastAsia="仿宋_GB2312"`}, {"Normal", `<w:sz w:val="32"/>`}, {"Normal", `w:firstLineChars="200"`},
		{"Title", `w:eastAsia="方正小标宋简体"`}, {"Title", `<w:sz w:val="44"/>`}, {"Title", `<w:jc w:val="center"/>`},
		{"Heading1", `w:eastAsia="黑体"`}, {"Heading1", `<w:outlineLvl w:val="0"/>`}, {"Heading1", `<w:name w:val="heading 1"/>`},
		{"Heading2", `w:eastAsia="楷体_GB2312"`}, {"Heading2", `<w:outlineLvl w:val="1"/>`},
		{"Heading3", `<w:b/>`}, {"Heading3", `<w:outlineLvl w:val="2"/>`},
		{"Prompt", `<w:color w:val="C00000"/>`}, {"Prompt", `w:fill="FFF2CC"`},
		{"Footer", `<w:sz w:val="28"/>`},
	} {
		if s := styleOf(c.id); !strings.Contains(s, c.want) {
			t.Errorf("style %s lacks %s:\n%s", c.id, c.want, s)
		}
	}
	// Each Chinese face has an alternative and the GB2312 character set.
	fonts := string(parts["word/fontTable.xml"])
	for _, f := range []string{FontBody, FontHei, FontKai, FontTitle, FontSong} {
		re := regexp.MustCompile(`<w:font w:name="` + f + `"><w:altName w:val="[^"]+"/>.*?<w:charset w:val="86"/>`)
		if !re.MatchString(fonts) {
			t.Errorf("font table: %s without alternative or charset", f)
		}
	}
	body := string(parts["word/document.xml"])
	for _, want := range []string{`<w:pgSz w:w="11906" w:h="16838"/>`, `w:top="2098"`, `w:bottom="1984"`, `w:left="1587"`, `w:right="1474"`,
		`<w:footerReference w:type="default"`, `<w:footerReference w:type="even"`} {
		if !strings.Contains(body, want) {
			t.Errorf("section lacks %s", want)
		}
	}
	// 156 mm of text across: the GB/T 9704 block.
	if mm := float64(TextWidth) / mmTwips; math.Abs(mm-156) > 0.2 {
		t.Errorf("text block %.1f mm wide", mm)
	}
	if h := float64(pageH-marginTop-marginBottom) / mmTwips; math.Abs(h-225) > 0.2 {
		t.Errorf("text block %.1f mm high", h)
	}
	for _, f := range []string{"word/footer1.xml", "word/footer2.xml"} {
		s := string(parts[f])
		if !strings.Contains(s, ` PAGE `) || !strings.Contains(s, `>— <`) || !strings.Contains(s, `> —<`) {
			t.Errorf("%s: no 「— PAGE —」: %s", f, s)
		}
	}
	if !strings.Contains(string(parts["word/footer1.xml"]), `w:val="right"`) || !strings.Contains(string(parts["word/footer2.xml"]), `w:val="left"`) {
		t.Errorf("page numbers not on the outside edge")
	}
	if !strings.Contains(string(parts["word/settings.xml"]), `<w:evenAndOddHeaders/>`) {
		t.Errorf("odd and even footers not enabled")
	}
	// The header row repeats and rows do not split across pages.
	if !strings.Contains(body, `<w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>`) {
		t.Errorf("no repeating header row")
	}
}

// Text from the data (a school's name, a district's) may carry anything: markup,
// control characters, invalid UTF-8. The document stays well-formed and reads back.
func TestHostileText(t *testing.T) {
	hostile := []string{
		`<w:p>&amp;"'</w:t>]]>`,
		"tab\there\nnew line",
		"control\x00\x01\x08\x0b\x1fchars",
		"bad utf8 \xff\xfe end",
		"surrogate \U0001F600 emoji",
		strings.Repeat("长", 5000),
	}
	d := New(Meta{Title: hostile[0]})
	for _, h := range hostile {
		d.Text(h)
		d.Prompt(h)
	}
	d.Table(Table{Header: hostile[:2], Rows: [][]string{hostile[2:4], hostile[4:6]}})
	d.Chart(Chart{Title: hostile[0], Categories: hostile[:3], Series: []Series{{Name: hostile[1], Values: []float64{1, 2, 3}}}})
	var buf bytes.Buffer
	if err := d.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := Check(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	doc, err := Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	paras := doc.Paragraphs(StyleNormal)
	want := []string{`<w:p>&amp;"'</w:t>]]>`, "tab\there\nnew line", "controlchars", "bad utf8 \uFFFD\uFFFD end", "surrogate \U0001F600 emoji", strings.Repeat("长", 5000)}
	if strings.Join(paras, "|") != strings.Join(want, "|") {
		t.Errorf("read back %q", paras)
	}
	if c := doc.Charts()[0]; c.Title != hostile[0] || c.Categories[2] != "controlchars" {
		t.Errorf("chart %q %q", c.Title, c.Categories)
	}
}

func TestChartRefusesBadSeries(t *testing.T) {
	for name, c := range map[string]Chart{
		"no categories": {Series: []Series{{Name: "x"}}},
		"no series":     {Categories: []string{"a"}},
		"short series":  {Categories: []string{"a", "b"}, Series: []Series{{Name: "x", Values: []float64{1}}}},
		"infinite":      {Categories: []string{"a"}, Series: []Series{{Name: "x", Values: []float64{math.Inf(1)}}}},
	} {
		d := New(Meta{})
		d.Chart(c)
		if d.Err() == nil {
			t.Errorf("%s: accepted", name)
		}
		if err := d.Write(&bytes.Buffer{}); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}

// Check finds what Word refuses or repairs: a relationship to a missing part, a part
// without a content type, a part nothing reaches, XML that is not well-formed, a style
// that is not defined, a relationship id a part uses but its rels do not define.
func TestCheckFindsBrokenPackages(t *testing.T) {
	good := sample(t, 2)
	parts, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	rebuild := func(change func(map[string][]byte)) []byte {
		p := map[string][]byte{}
		for k, v := range parts {
			p[k] = v
		}
		change(p)
		var buf bytes.Buffer
		z := zip.NewWriter(&buf)
		for k, v := range p {
			w, _ := z.Create(k)
			w.Write(v)
		}
		z.Close()
		return buf.Bytes()
	}
	for name, c := range map[string]struct {
		change func(map[string][]byte)
		want   string
	}{
		"missing chart part": {func(p map[string][]byte) { delete(p, "word/charts/chart2.xml") }, "missing part"},
		"missing workbook":   {func(p map[string][]byte) { delete(p, "word/embeddings/chart1_data.xlsx") }, "missing part word/embeddings/chart1_data.xlsx"},
		"no content type": {func(p map[string][]byte) {
			p["[Content_Types].xml"] = bytes.Replace(p["[Content_Types].xml"], []byte(`<Default Extension="xlsx"`), []byte(`<Default Extension="xlsy"`), 1)
		}, "chart1_data.xlsx: no content type"},
		"orphan part":   {func(p map[string][]byte) { p["word/media/stray.xml"] = []byte("<x/>") }, "stray.xml: not reached"},
		"malformed xml": {func(p map[string][]byte) { p["word/styles.xml"] = append([]byte{}, p["word/styles.xml"][:200]...) }, "styles.xml"},
		"undefined style": {func(p map[string][]byte) {
			p["word/document.xml"] = bytes.Replace(p["word/document.xml"], []byte(`w:val="Heading2"`), []byte(`w:val="Heading7"`), 1)
		}, "undefined paragraph style Heading7"},
		"undefined id": {func(p map[string][]byte) {
			p["word/document.xml"] = bytes.Replace(p["word/document.xml"], []byte(`r:id="rId11"`), []byte(`r:id="rId99"`), 1)
		}, "uses relationship rId99"},
		"override of nothing": {func(p map[string][]byte) { delete(p, "word/footer2.xml") }, "missing part /word/footer2.xml"},
	} {
		t.Run(name, func(t *testing.T) {
			err := Check(rebuild(c.change))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check: %v, want %q", err, c.want)
			}
		})
	}
	if err := Check([]byte("not a zip")); err == nil {
		t.Errorf("a non-zip passed")
	}
}

// Every XML part parses with the namespaces Word expects, and the chart parts declare the
// chart namespace at the root.
func TestChartPartShape(t *testing.T) {
	parts, err := Open(sample(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	var cs struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(parts["word/charts/chart1.xml"], &cs); err != nil {
		t.Fatal(err)
	}
	if cs.XMLName.Space != nsC || cs.XMLName.Local != "chartSpace" {
		t.Errorf("chart root %v", cs.XMLName)
	}
	c := string(parts["word/charts/chart1.xml"])
	for _, want := range []string{`<c:max val="1"/><c:min val="0"/>`, `<c:formatCode>0.0%</c:formatCode>`, `<c:externalData r:id="rId1">`, `<a:ea typeface="宋体"/>`} {
		if !strings.Contains(c, want) {
			t.Errorf("bar chart lacks %s", want)
		}
	}
}

// LibreOffice opens the document without repair and lays it out as the 公文 layout asks:
// the page break and the long table give the expected pages, the table's header repeats
// on the page it runs onto, the page numbers read 「— N —」, and the Chinese text is set
// in a CJK face although this machine has none of the 公文 fonts.
func TestLibreOfficeRendersSample(t *testing.T) {
	if testing.Short() {
		t.Skip("converts with LibreOffice")
	}
	docx := office.WriteFile(t, "sample.docx", sample(t, 40))
	pdf := office.ToPDF(t, docx)
	t.Log(office.Describe(t, pdf))
	pages := office.Text(t, pdf)
	for i, p := range pages { // pdftotext spaces Latin beside CJK text as it likes
		pages[i] = strings.Join(strings.Fields(p), "")
	}
	n := office.Pages(t, pdf)
	if n < 3 || len(pages) != n {
		t.Fatalf("%d pages (%d of text): the 40-row table runs over a page, and the page break puts the line chart on a page of its own", n, len(pages))
	}
	for i, p := range pages {
		if !strings.Contains(p, fmt.Sprintf("—%d—", i+1)) {
			t.Errorf("page %d: no page number 「— %d —」:\n%s", i+1, i+1, p)
		}
	}
	// Every page the table runs onto starts with its header; the line chart follows the
	// page break alone, at the top of the last page.
	for i, p := range pages {
		if i > 0 && strings.Contains(p, "中学") && !(strings.Contains(p, "学校") && strings.Contains(p, "教师数")) {
			t.Errorf("page %d does not repeat the table's header:\n%s", i+1, p)
		}
	}
	if !strings.Contains(pages[n-1], "图2") || strings.Contains(pages[n-1], "图1") || !strings.Contains(pages[n-2], "图1") {
		t.Errorf("the page break did not start a page at 图2")
	}
	cjk := false
	for _, f := range office.Fonts(t, pdf) {
		if strings.Contains(f, "CJK") {
			cjk = true
		}
	}
	if !cjk {
		t.Errorf("no CJK face in %v", office.Fonts(t, pdf))
	}
	office.Screenshots(t, pdf, office.ScreenshotDir(2), "docx-sample")
}

// The reader and the package check take any bytes without panicking (a zip that is no
// package, parts that are no XML, relationships in cycles, tables and series nested).
func FuzzRead(f *testing.F) {
	f.Add(sample(&testing.T{}, 2))
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if d, err := Read(data); err == nil {
			_ = d.Text()
		}
		_ = Check(data)
	})
}

// Nested and unbalanced structures in a hand-made body read without a panic.
func TestReadOddBodies(t *testing.T) {
	for name, body := range map[string]string{
		"nested tables":   `<w:tbl><w:tr><w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>内</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p/></w:tc></w:tr></w:tbl>`,
		"chart ns tbl":    `<c:tbl xmlns:c="` + nsC + `"></c:tbl><w:p><w:r><w:t>x</w:t></w:r></w:p>`,
		"paragraph alone": `<w:r><w:t>孤立</w:t></w:r>`,
	} {
		parts, err := Open(sample(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		parts["word/document.xml"] = []byte(xmlHeader + `<w:document xmlns:w="` + nsW + `" xmlns:r="` + nsR + `"><w:body>` + body + `</w:body></w:document>`)
		var buf bytes.Buffer
		z := zip.NewWriter(&buf)
		for k, v := range parts {
			w, _ := z.Create(k)
			w.Write(v)
		}
		z.Close()
		if _, err := Read(buf.Bytes()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
