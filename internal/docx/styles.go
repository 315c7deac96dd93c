package docx

import (
	"fmt"
	"strconv"
	"strings"
)

// The 公文 fonts (GB/T 9704 §7.2) and Latin text in Times New Roman, as offices set them.
const (
	FontBody    = "仿宋_GB2312"
	FontHei     = "黑体"
	FontKai     = "楷体_GB2312"
	FontTitle   = "方正小标宋简体"
	FontSong    = "宋体"
	FontLatin   = "Times New Roman"
	fontsLatinA = `w:ascii="` + FontLatin + `" w:hAnsi="` + FontLatin + `" w:cs="` + FontLatin + `"`
)

// Font is one entry of the font table: what a reader without the font should use. Word
// and WPS take the alternative name (altName) first, then a font of the same character
// set (86: GB2312), family and PANOSE class; LibreOffice takes the family (roman: a serif
// face, swiss: a sans face) when it looks for a substitute with Chinese glyphs.
type Font struct {
	Name, AltName, Panose, Family, Pitch string
	Charset                              string // hex, as Word writes it
}

// Fonts is the font table: the four 公文 faces, with the names Windows ships since Vista
// (仿宋, 楷体) as their alternatives, and the Latin and footer faces.
var Fonts = []Font{
	{Name: FontBody, AltName: "仿宋", Panose: "02010609030101010101", Charset: "86", Family: "roman", Pitch: "fixed"},
	{Name: "仿宋", AltName: "FangSong", Panose: "02010609060101010101", Charset: "86", Family: "roman", Pitch: "fixed"},
	{Name: FontKai, AltName: "楷体", Panose: "02010609030101010101", Charset: "86", Family: "roman", Pitch: "fixed"},
	{Name: "楷体", AltName: "KaiTi", Panose: "02010609060101010101", Charset: "86", Family: "roman", Pitch: "fixed"},
	{Name: FontHei, AltName: "SimHei", Panose: "02010609060101010101", Charset: "86", Family: "swiss", Pitch: "fixed"},
	{Name: FontTitle, AltName: "宋体", Panose: "02000000000000000000", Charset: "86", Family: "roman", Pitch: "variable"},
	{Name: FontSong, AltName: "SimSun", Panose: "02010600030101010101", Charset: "86", Family: "roman", Pitch: "variable"},
	{Name: FontLatin, Panose: "02020603050405020304", Charset: "00", Family: "roman", Pitch: "variable"},
}

var fontTableXML = func() string {
	var b strings.Builder
	b.WriteString(xmlHeader + `<w:fonts xmlns:w="` + nsW + `">`)
	for _, f := range Fonts {
		b.WriteString(`<w:font w:name="` + esc(f.Name) + `">`)
		if f.AltName != "" {
			b.WriteString(`<w:altName w:val="` + esc(f.AltName) + `"/>`)
		}
		b.WriteString(`<w:panose1 w:val="` + f.Panose + `"/><w:charset w:val="` + f.Charset + `"/><w:family w:val="` + f.Family + `"/><w:pitch w:val="` + f.Pitch + `"/></w:font>`)
	}
	b.WriteString(`</w:fonts>`)
	return b.String()
}()

// Sizes in half-points, by their Chinese names: 2号 22 pt, 3号 16 pt, 4号 14 pt, 五号 10.5 pt.
const (
	noInd = `<w:ind w:firstLineChars="0" w:firstLine="0"/>`
)

// layout is the type sizes and line pitches of a document's styles.
type layout struct {
	body, title, note string // sizes in half-points
	line, titleLine   int    // exact line pitches in twips
	noteLine          int
	titleAfter        int    // space after the title and the subtitle
	table             string // table text size
}

// standard is GB/T 9704: 3号 body on 22 lines of the 225 mm block (28.95 pt), 2号 title.
var standard = layout{body: "32", title: "44", note: "28", line: 579, titleLine: 720, noteLine: 440, titleAfter: 579, table: "21"}

// compact is for a school's one- or two-page form (the SWOT diagnosis): 4号 body, 小二
// title, the same faces and styles.
var compact = layout{body: "28", title: "36", note: "24", line: 440, titleLine: 560, noteLine: 360, titleAfter: 220, table: "18"}

func (l layout) spacing() string {
	return fmt.Sprintf(`<w:spacing w:before="0" w:after="0" w:line="%d" w:lineRule="exact"/>`, l.line)
}

// indent is two characters of the body size.
func (l layout) indent() string {
	n, _ := strconv.Atoi(l.body)
	return fmt.Sprintf(`<w:ind w:firstLineChars="200" w:firstLine="%d"/>`, n*20)
}

func ea(font string) string {
	return `<w:rFonts ` + fontsLatinA + ` w:eastAsia="` + font + `"/>`
}

func sz(s string) string { return `<w:sz w:val="` + s + `"/><w:szCs w:val="` + s + `"/>` }

// style writes one paragraph style (the elements in the schema's order).
func style(id, name, basedOn, next string, extra, ppr, rpr string) string {
	s := `<w:style w:type="paragraph"`
	if id == StyleNormal {
		s += ` w:default="1"`
	}
	s += ` w:styleId="` + id + `"><w:name w:val="` + name + `"/>`
	if basedOn != "" {
		s += `<w:basedOn w:val="` + basedOn + `"/>`
	}
	if next != "" {
		s += `<w:next w:val="` + next + `"/>`
	}
	s += extra + `<w:pPr>` + ppr + `</w:pPr><w:rPr>` + rpr + `</w:rPr></w:style>`
	return s
}

func stylesXML(l layout) string {
	return xmlHeader + `<w:styles xmlns:w="` + nsW + `">` +
		`<w:docDefaults><w:rPrDefault><w:rPr>` + ea(FontBody) + `<w:kern w:val="2"/>` + sz(l.body) +
		`<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault>` +
		`<w:pPrDefault><w:pPr><w:widowControl w:val="0"/>` + l.spacing() + `</w:pPr></w:pPrDefault></w:docDefaults>` +
		style(StyleNormal, "Normal", "", "", `<w:qFormat/>`, `<w:widowControl w:val="0"/>`+l.spacing()+l.indent()+`<w:jc w:val="both"/>`, ea(FontBody)+sz(l.body)) +
		style(StyleTitle, "Title", StyleNormal, StyleNormal, `<w:uiPriority w:val="10"/><w:qFormat/>`,
			fmt.Sprintf(`<w:spacing w:before="0" w:after="%d" w:line="%d" w:lineRule="exact"/>`, l.titleAfter, l.titleLine)+noInd+`<w:jc w:val="center"/><w:outlineLvl w:val="9"/>`,
			ea(FontTitle)+sz(l.title)) +
		style(StyleSubtitle, "Subtitle", StyleNormal, StyleNormal, `<w:uiPriority w:val="11"/><w:qFormat/>`,
			fmt.Sprintf(`<w:spacing w:before="0" w:after="%d" w:line="%d" w:lineRule="exact"/>`, l.titleAfter, l.line)+noInd+`<w:jc w:val="center"/>`,
			ea(FontKai)+sz(l.body)) +
		style(StyleHeading1, "heading 1", StyleNormal, StyleNormal, `<w:uiPriority w:val="9"/><w:qFormat/>`,
			`<w:keepNext/><w:keepLines/>`+l.spacing()+l.indent()+`<w:outlineLvl w:val="0"/>`, ea(FontHei)+sz(l.body)) +
		style(StyleHeading2, "heading 2", StyleNormal, StyleNormal, `<w:uiPriority w:val="9"/><w:unhideWhenUsed/><w:qFormat/>`,
			`<w:keepNext/><w:keepLines/>`+l.spacing()+l.indent()+`<w:outlineLvl w:val="1"/>`, ea(FontKai)+sz(l.body)) +
		style(StyleHeading3, "heading 3", StyleNormal, StyleNormal, `<w:uiPriority w:val="9"/><w:unhideWhenUsed/><w:qFormat/>`,
			`<w:keepNext/><w:keepLines/>`+l.spacing()+l.indent()+`<w:outlineLvl w:val="2"/>`, ea(FontBody)+`<w:b/><w:bCs/>`+sz(l.body)) +
		style(StylePrompt, "待填写提示", StyleNormal, StylePrompt, `<w:qFormat/>`,
			`<w:pBdr><w:left w:val="single" w:sz="24" w:space="4" w:color="C00000"/></w:pBdr><w:shd w:val="clear" w:color="auto" w:fill="FFF2CC"/>`,
			`<w:color w:val="C00000"/>`) +
		style(StyleNote, "数据说明", StyleNormal, StyleNormal, ``,
			fmt.Sprintf(`<w:spacing w:before="0" w:after="0" w:line="%d" w:lineRule="exact"/><w:ind w:firstLineChars="200" w:firstLine="%d"/>`, l.noteLine, atoi(l.note)*20),
			sz(l.note)) +
		style(StyleCaption, "caption", StyleNormal, StyleNormal, `<w:uiPriority w:val="35"/><w:unhideWhenUsed/><w:qFormat/>`,
			`<w:keepNext/><w:keepLines/><w:spacing w:before="240" w:after="120" w:line="240" w:lineRule="auto"/>`+noInd+`<w:jc w:val="center"/>`,
			ea(FontHei)+sz(l.note)) +
		style(StyleTableText, "表格文字", StyleNormal, StyleTableText, `<w:qFormat/>`,
			`<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>`+noInd+`<w:jc w:val="left"/>`,
			sz(l.table)) +
		style(StyleTableHeader, "表头", StyleTableText, StyleTableText, `<w:qFormat/>`,
			`<w:keepNext/><w:jc w:val="center"/>`, ea(FontHei)+sz(l.table)) +
		style(StyleClosing, "落款", StyleNormal, StyleClosing, `<w:qFormat/>`,
			`<w:ind w:right="1280" w:rightChars="400" w:firstLineChars="0" w:firstLine="0"/><w:jc w:val="right"/>`, ``) +
		style(StyleFooter, "footer", StyleNormal, "", `<w:uiPriority w:val="99"/><w:unhideWhenUsed/>`,
			`<w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>`+noInd,
			`<w:rFonts w:ascii="`+FontSong+`" w:hAnsi="`+FontSong+`" w:eastAsia="`+FontSong+`" w:cs="`+FontLatin+`"/>`+sz(l.note)) +
		`<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont"><w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/><w:semiHidden/><w:unhideWhenUsed/></w:style>` +
		`<w:style w:type="character" w:styleId="PromptChar"><w:name w:val="待填写文字"/><w:basedOn w:val="DefaultParagraphFont"/><w:qFormat/>` +
		`<w:rPr><w:color w:val="C00000"/><w:shd w:val="clear" w:color="auto" w:fill="FFF2CC"/></w:rPr></w:style>` +
		`<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/><w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/>` +
		`<w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>` +
		`<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/><w:basedOn w:val="TableNormal"/><w:uiPriority w:val="39"/>` +
		`<w:pPr><w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/></w:pPr>` +
		`<w:tblPr><w:tblBorders>` +
		`<w:top w:val="single" w:sz="8" w:space="0" w:color="000000"/><w:left w:val="single" w:sz="4" w:space="0" w:color="000000"/>` +
		`<w:bottom w:val="single" w:sz="8" w:space="0" w:color="000000"/><w:right w:val="single" w:sz="4" w:space="0" w:color="000000"/>` +
		`<w:insideH w:val="single" w:sz="4" w:space="0" w:color="000000"/><w:insideV w:val="single" w:sz="4" w:space="0" w:color="000000"/>` +
		`</w:tblBorders><w:tblCellMar><w:top w:w="28" w:type="dxa"/><w:left w:w="85" w:type="dxa"/><w:bottom w:w="28" w:type="dxa"/><w:right w:w="85" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>` +
		`</w:styles>`
}

// settingsXML: different footers on odd and even pages (the page number on the outside
// edge), Chinese punctuation compressed at line ends, Word 2013+ layout.
const settingsXML = xmlHeader + `<w:settings xmlns:w="` + nsW + `">` +
	`<w:zoom w:percent="100"/><w:defaultTabStop w:val="420"/><w:evenAndOddHeaders/>` +
	`<w:characterSpacingControl w:val="compressPunctuation"/>` +
	`<w:compat><w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/></w:compat>` +
	`<w:themeFontLang w:val="en-US" w:eastAsia="zh-CN"/><w:decimalSymbol w:val="."/><w:listSeparator w:val=","/></w:settings>`

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
