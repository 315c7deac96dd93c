package docx

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
)

// The reader below reads a document back as a person would check it: its paragraphs with
// their styles, its tables' cells and its charts' cached values, and checks the package
// as Word requires it. Tests of every document the program writes use it.

// BlockKind is what a block of the body is.
type BlockKind int

const (
	Paragraph BlockKind = iota
	TableBlock
	ChartBlock
)

// Block is one paragraph, table or chart of a document's body, in reading order.
type Block struct {
	Kind  BlockKind
	Style string     // a paragraph's style id
	Text  string     // a paragraph's text (line breaks as "\n", tabs as "\t")
	Rows  [][]string // a table's rows, the header first; a cell's paragraphs joined by "\n"
	// HeaderRows is how many rows at the top repeat on every page.
	HeaderRows int
	Chart      *ChartData
}

// ChartData is what a chart part holds: its type, title and cached values.
type ChartData struct {
	Part       string
	Kind       string // barChart, lineChart, …
	Title      string
	Categories []string
	Series     []Series
	// Workbook is the embedded workbook's part name ("" when there is none).
	Workbook string
}

// Doc is a document as read back.
type Doc struct {
	Blocks []Block
	Parts  map[string][]byte
}

// Paragraphs is the text of every paragraph of the given styles (all when none given).
func (d *Doc) Paragraphs(styles ...string) []string {
	var out []string
	for _, b := range d.Blocks {
		if b.Kind != Paragraph {
			continue
		}
		if len(styles) == 0 || contains(styles, b.Style) {
			out = append(out, b.Text)
		}
	}
	return out
}

// Tables is every table of the document.
func (d *Doc) Tables() []Block {
	var out []Block
	for _, b := range d.Blocks {
		if b.Kind == TableBlock {
			out = append(out, b)
		}
	}
	return out
}

// Charts is every chart of the document.
func (d *Doc) Charts() []*ChartData {
	var out []*ChartData
	for _, b := range d.Blocks {
		if b.Kind == ChartBlock {
			out = append(out, b.Chart)
		}
	}
	return out
}

// Text is the whole body as text, one paragraph or table row a line (cells separated by
// "|"), for searching.
func (d *Doc) Text() string {
	var b strings.Builder
	for _, bl := range d.Blocks {
		switch bl.Kind {
		case Paragraph:
			b.WriteString(bl.Text + "\n")
		case TableBlock:
			for _, r := range bl.Rows {
				b.WriteString(strings.Join(r, "|") + "\n")
			}
		case ChartBlock:
			b.WriteString("[图表] " + bl.Chart.Title + "\n")
		}
	}
	return b.String()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// maxPart bounds a part read back: the documents are small, and a reader of packages
// must not inflate whatever it is given.
const maxPart = 64 << 20

// Open reads a package's parts.
func Open(data []byte) (map[string][]byte, error) {
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("docx: not a zip package: %w", err)
	}
	parts := map[string][]byte{}
	for _, f := range z.File {
		if _, dup := parts[f.Name]; dup {
			return nil, fmt.Errorf("docx: part %s twice", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("docx: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxPart+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("docx: %s: %w", f.Name, err)
		}
		if len(b) > maxPart {
			return nil, fmt.Errorf("docx: %s larger than %d bytes", f.Name, maxPart)
		}
		parts[f.Name] = b
	}
	return parts, nil
}

// Read reads a document back: its body's paragraphs, tables and charts.
func Read(data []byte) (*Doc, error) {
	parts, err := Open(data)
	if err != nil {
		return nil, err
	}
	main, err := mainPart(parts)
	if err != nil {
		return nil, err
	}
	rels, err := readRels(parts, main)
	if err != nil {
		return nil, err
	}
	doc := &Doc{Parts: parts}
	dec := xml.NewDecoder(bytes.NewReader(parts[main]))
	// depth of tables being read; a nested table's text goes into its outer cell
	var (
		tables    []*Block
		row       []string
		cellText  []string
		inCell    bool
		para      strings.Builder
		style     string
		inPara    bool
		inText    bool
		isHeader  bool
		chartRefs []string
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("docx: %s: %w", main, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsC && t.Name.Local == "chart" {
				chartRefs = append(chartRefs, attrNS(t, nsR, "id"))
				continue
			}
			if t.Name.Space != nsW {
				continue
			}
			switch t.Name.Local {
			case "tbl":
				if len(tables) == 0 {
					tables = append(tables, &Block{Kind: TableBlock})
				} else {
					tables = append(tables, nil) // nested: flattened into the cell
				}
			case "tr":
				if len(tables) == 1 {
					row = nil
					isHeader = false
				}
			case "tblHeader":
				if len(tables) == 1 && attr(t, "val") != "0" && attr(t, "val") != "false" {
					isHeader = true
				}
			case "tc":
				if len(tables) == 1 {
					inCell, cellText = true, nil
				}
			case "p":
				inPara, style = true, ""
				para.Reset()
				chartRefs = nil
			case "pStyle":
				if inPara {
					style = attr(t, "val")
				}
			case "t", "instrText":
				inText = t.Name.Local == "t"
			case "tab":
				if inPara {
					para.WriteString("\t")
				}
			case "br":
				if inPara && attr(t, "type") != "page" {
					para.WriteString("\n")
				}
			}
		case xml.CharData:
			if inText {
				para.Write(t)
			}
		case xml.EndElement:
			if t.Name.Space != nsW {
				continue
			}
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				inPara = false
				if inCell {
					cellText = append(cellText, para.String())
					continue
				}
				doc.Blocks = append(doc.Blocks, Block{Kind: Paragraph, Style: style, Text: para.String()})
				for _, id := range chartRefs {
					target, ok := rels[id]
					if !ok {
						return nil, fmt.Errorf("docx: chart relationship %s missing", id)
					}
					cd, err := readChart(parts, target)
					if err != nil {
						return nil, err
					}
					doc.Blocks = append(doc.Blocks, Block{Kind: ChartBlock, Chart: cd})
				}
			case "tc":
				if len(tables) == 1 {
					inCell = false
					row = append(row, strings.Join(cellText, "\n"))
				}
			case "tr":
				if len(tables) == 1 {
					tb := tables[0]
					tb.Rows = append(tb.Rows, row)
					if isHeader && tb.HeaderRows == len(tb.Rows)-1 {
						tb.HeaderRows++
					}
				}
			case "tbl":
				if len(tables) == 1 {
					doc.Blocks = append(doc.Blocks, *tables[0])
				}
				if len(tables) > 0 {
					tables = tables[:len(tables)-1]
				}
			}
		}
	}
	return doc, nil
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func attrNS(t xml.StartElement, space, local string) string {
	for _, a := range t.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// mainPart is the office document the package's root relationships name.
func mainPart(parts map[string][]byte) (string, error) {
	rels, err := relationships(parts, "")
	if err != nil {
		return "", err
	}
	for _, r := range rels {
		if strings.HasSuffix(r.Type, "/officeDocument") && r.TargetMode != "External" {
			return resolve("", r.Target), nil
		}
	}
	return "", errors.New("docx: no officeDocument relationship in _rels/.rels")
}

func nan() float64 { return math.NaN() }

type relationship struct {
	ID         string `xml:"Id,attr"`
	Type       string `xml:"Type,attr"`
	Target     string `xml:"Target,attr"`
	TargetMode string `xml:"TargetMode,attr"`
}

func relsName(source string) string {
	if source == "" {
		return "_rels/.rels"
	}
	dir, file := path.Split(source)
	return dir + "_rels/" + file + ".rels"
}

// resolve turns a relationship's target into a part name, relative to its source part.
func resolve(source, target string) string {
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Clean(path.Join(path.Dir(source), target)), "/")
}

// readRels reads a part's relationships: id to target part name (internal targets only).
func readRels(parts map[string][]byte, source string) (map[string]string, error) {
	all, err := relationships(parts, source)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range all {
		if r.TargetMode == "External" {
			continue
		}
		out[r.ID] = resolve(source, r.Target)
	}
	return out, nil
}

func relationships(parts map[string][]byte, source string) ([]relationship, error) {
	name := relsName(source)
	data, ok := parts[name]
	if !ok {
		if source == "" {
			return nil, errors.New("docx: no _rels/.rels")
		}
		return nil, nil
	}
	var doc struct {
		Rels []relationship `xml:"Relationship"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("docx: %s: %w", name, err)
	}
	return doc.Rels, nil
}

// maxPoints bounds a chart's categories read back (an index past it would allocate for
// nothing).
const maxPoints = 100000

// readChart reads a chart part's title, type and cached categories and values.
func readChart(parts map[string][]byte, name string) (*ChartData, error) {
	data, ok := parts[name]
	if !ok {
		return nil, fmt.Errorf("docx: chart part %s missing", name)
	}
	cd := &ChartData{Part: name}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var (
		stack   []string
		ser     *Series
		cats    []string
		inCat   bool
		inVal   bool
		inTx    bool
		inTitle bool
		ptIdx   int
		text    strings.Builder
		extID   string
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("docx: %s: %w", name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			switch t.Name.Local {
			case "barChart", "lineChart", "pieChart", "areaChart", "scatterChart":
				cd.Kind = t.Name.Local
			case "title":
				if len(stack) == 3 { // chartSpace/chart/title
					inTitle = true
				}
			case "ser":
				ser = &Series{}
				cats = nil
			case "cat":
				inCat = true
			case "val":
				inVal = true
			case "tx":
				inTx = ser != nil
			case "pt":
				n, err := strconv.Atoi(attr(t, "idx"))
				if err != nil || n < 0 || n >= maxPoints {
					return nil, fmt.Errorf("docx: %s: point index %q", name, attr(t, "idx"))
				}
				ptIdx = n
			case "v", "t":
				text.Reset()
			case "externalData":
				extID = attrNS(t, nsR, "id")
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			switch t.Name.Local {
			case "t":
				if inTitle {
					cd.Title += text.String()
				}
			case "title":
				inTitle = false
			case "v":
				switch {
				case ser != nil && inTx:
					ser.Name = text.String()
				case ser != nil && inCat:
					for len(cats) <= ptIdx {
						cats = append(cats, "")
					}
					cats[ptIdx] = text.String()
				case ser != nil && inVal:
					f, err := strconv.ParseFloat(strings.TrimSpace(text.String()), 64)
					if err != nil {
						return nil, fmt.Errorf("docx: %s: value %q", name, text.String())
					}
					for len(ser.Values) <= ptIdx {
						ser.Values = append(ser.Values, nan())
					}
					ser.Values[ptIdx] = f
				}
			case "tx":
				inTx = false
			case "cat":
				inCat = false
			case "val":
				inVal = false
			case "ser":
				if ser == nil { // a series inside a series: not a chart Word writes
					return nil, fmt.Errorf("docx: %s: nested series", name)
				}
				if cd.Categories == nil {
					cd.Categories = cats
				}
				for len(ser.Values) < len(cats) {
					ser.Values = append(ser.Values, nan())
				}
				cd.Series = append(cd.Series, *ser)
				ser = nil
			}
		}
	}
	if extID != "" {
		rels, err := readRels(parts, name)
		if err != nil {
			return nil, err
		}
		cd.Workbook = rels[extID]
	}
	return cd, nil
}

// Check verifies a package as Word requires it: every part is well-formed XML (or a known
// binary), has a content type, and is reached from the package's relationships; every
// relationship's internal target exists; every relationship id a part uses is defined;
// every style the document names is in styles.xml.
func Check(data []byte) error {
	parts, err := Open(data)
	if err != nil {
		return err
	}
	ctData, ok := parts["[Content_Types].xml"]
	if !ok {
		return errors.New("docx: no [Content_Types].xml")
	}
	var ct struct {
		Defaults []struct {
			Extension   string `xml:",attr"`
			ContentType string `xml:",attr"`
		} `xml:"Default"`
		Overrides []struct {
			PartName    string `xml:",attr"`
			ContentType string `xml:",attr"`
		} `xml:"Override"`
	}
	if err := xml.Unmarshal(ctData, &ct); err != nil {
		return fmt.Errorf("docx: [Content_Types].xml: %w", err)
	}
	byExt, byPart := map[string]string{}, map[string]string{}
	for _, d := range ct.Defaults {
		byExt[strings.ToLower(d.Extension)] = d.ContentType
	}
	for _, o := range ct.Overrides {
		name := strings.TrimPrefix(o.PartName, "/")
		if _, ok := parts[name]; !ok {
			return fmt.Errorf("docx: content type given for missing part %s", o.PartName)
		}
		byPart[name] = o.ContentType
	}
	var names []string
	for name := range parts {
		names = append(names, name)
	}
	sort.Strings(names)
	var problems []string
	for _, name := range names {
		if name == "[Content_Types].xml" {
			continue
		}
		typ := byPart[name]
		if typ == "" {
			typ = byExt[strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))]
		}
		if typ == "" {
			problems = append(problems, name+": no content type")
		}
		if strings.HasSuffix(name, ".xml") || strings.HasSuffix(name, ".rels") {
			if err := wellFormed(parts[name]); err != nil {
				problems = append(problems, name+": "+err.Error())
			}
		}
	}
	// Walk the relationships from the root: targets exist, and every part is reached.
	reached := map[string]bool{"[Content_Types].xml": true}
	queue := []string{""}
	seen := map[string]bool{"": true}
	for len(queue) > 0 {
		src := queue[0]
		queue = queue[1:]
		if src != "" {
			reached[src] = true
		}
		if _, ok := parts[relsName(src)]; ok {
			reached[relsName(src)] = true
		}
		rels, err := relationships(parts, src)
		if err != nil {
			return err
		}
		ids := map[string]bool{}
		for _, r := range rels {
			if ids[r.ID] {
				problems = append(problems, fmt.Sprintf("%s: relationship id %s twice", relsName(src), r.ID))
			}
			ids[r.ID] = true
			if r.TargetMode == "External" {
				continue
			}
			target := resolve(src, r.Target)
			if _, ok := parts[target]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %s points to missing part %s", relsName(src), r.ID, target))
				continue
			}
			if !seen[target] {
				seen[target] = true
				queue = append(queue, target)
			}
		}
		if src != "" && (strings.HasSuffix(src, ".xml")) {
			for _, id := range usedIDs(parts[src]) {
				if !ids[id] {
					problems = append(problems, fmt.Sprintf("%s uses relationship %s, which %s does not define", src, id, relsName(src)))
				}
			}
		}
	}
	for _, name := range names {
		if !reached[name] {
			problems = append(problems, name+": not reached from any relationship")
		}
	}
	if main, err := mainPart(parts); err == nil {
		problems = append(problems, checkStyles(parts, main)...)
	} else {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return fmt.Errorf("docx: %s", strings.Join(problems, "; "))
	}
	return nil
}

func wellFormed(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// usedIDs are the relationship ids a part's XML refers to (r:id, r:embed, …).
func usedIDs(data []byte) []string {
	var out []string
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if t, ok := tok.(xml.StartElement); ok {
			for _, a := range t.Attr {
				if a.Name.Space == nsR {
					out = append(out, a.Value)
				}
			}
		}
	}
}

// checkStyles: every paragraph, character and table style the document and its footers
// name is defined in styles.xml, and every style's basedOn and next exist.
func checkStyles(parts map[string][]byte, main string) []string {
	var problems []string
	stylesPart := ""
	for _, r := range mustRels(parts, main) {
		if strings.HasSuffix(r.Type, "/styles") {
			stylesPart = resolve(main, r.Target)
		}
	}
	data, ok := parts[stylesPart]
	if !ok {
		return []string{"no styles part"}
	}
	var st struct {
		Styles []struct {
			ID      string `xml:"styleId,attr"`
			Type    string `xml:"type,attr"`
			BasedOn struct {
				Val string `xml:"val,attr"`
			} `xml:"basedOn"`
			Next struct {
				Val string `xml:"val,attr"`
			} `xml:"next"`
		} `xml:"style"`
	}
	if err := xml.Unmarshal(data, &st); err != nil {
		return []string{"styles: " + err.Error()}
	}
	defined := map[string]bool{}
	for _, s := range st.Styles {
		defined[s.Type+":"+s.ID] = true
	}
	for _, s := range st.Styles {
		for _, ref := range []string{s.BasedOn.Val, s.Next.Val} {
			if ref != "" && !defined[s.Type+":"+ref] {
				problems = append(problems, fmt.Sprintf("style %s refers to undefined style %s", s.ID, ref))
			}
		}
	}
	check := func(part string) {
		dec := xml.NewDecoder(bytes.NewReader(parts[part]))
		for {
			tok, err := dec.Token()
			if err != nil {
				return
			}
			t, ok := tok.(xml.StartElement)
			if !ok || t.Name.Space != nsW {
				continue
			}
			kind := map[string]string{"pStyle": "paragraph", "rStyle": "character", "tblStyle": "table"}[t.Name.Local]
			if kind != "" && !defined[kind+":"+attr(t, "val")] {
				problems = append(problems, fmt.Sprintf("%s names undefined %s style %s", part, kind, attr(t, "val")))
			}
		}
	}
	check(main)
	for _, r := range mustRels(parts, main) {
		if strings.HasSuffix(r.Type, "/footer") || strings.HasSuffix(r.Type, "/header") {
			check(resolve(main, r.Target))
		}
	}
	return problems
}

func mustRels(parts map[string][]byte, source string) []relationship {
	r, _ := relationships(parts, source)
	return r
}
