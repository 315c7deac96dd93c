package reports

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"tisheng/internal/apperr"

	"tisheng/internal/docx"
	"tisheng/queries"
)

// SWOTThreshold is the rule the 诊断报告 states and marks by: a figure at least 10% better
// than the district's average is an 优势, at least 10% worse a 劣势.
const SWOTThreshold = 0.10

// swotRule is the rule in the document's words.
const swotRule = "判断规则：本校数值比本区县各校平均值高10%及以上为“优势”，低10%及以上为“劣势”，其余为“持平”（平均值为0时，本校不为0即为优势）；" +
	"按表中显示的数值比较。年龄、学科结构和还差人数只作对照，标“—”。下文的优势、劣势据此写出。"

// swotText is a SWOT figure as the school page and the 诊断报告 show it: a share as a rate
// (the one rounding rule), a school's count as a whole number, averages (and a district's
// mean of a count) with two decimals.
func swotText(unit string, f float64, isValue bool) string {
	switch {
	case unit == "比例":
		return queries.FormatRate(f)
	case unit == "计数" && isValue:
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// swotShown is the number a reader sees in swotText.
func swotShown(unit string, f float64, isValue bool) float64 {
	switch {
	case unit == "比例":
		return queries.RoundRate(f)
	case unit == "计数" && isValue:
		return math.Round(f)
	}
	return math.Round(f*100) / 100
}

// swotMark marks a figure against the district average by the stated rule, on the shown
// numbers; "" when the figure is not judged (no direction, or no value).
func swotMark(value, avg float64, higherBetter bool) string {
	if avg == 0 {
		switch {
		case value == 0:
			return "持平"
		case (value > 0) == higherBetter:
			return "优势"
		}
		return "劣势"
	}
	rel := (value - avg) / math.Abs(avg)
	if !higherBetter {
		rel = -rel
	}
	// compare in whole thousandths: 10% of the average is exactly the threshold
	switch r := math.Round(rel * 1000); {
	case r >= SWOTThreshold*1000:
		return "优势"
	case r <= -SWOTThreshold*1000:
		return "劣势"
	}
	return "持平"
}

// swotItem is one row of the comparison.
type swotItem struct {
	group, label, unit string
	value, avg         string
	mark               string // 优势, 劣势, 持平 or "" (not judged)
	hasValue           bool
	higherBetter       bool
	diff               string
	share              float64 // the school's value, for ordering subjects
}

// swotGroups puts each figure of school_swot under a heading, in this order.
var swotGroups = []struct {
	name   string
	labels []string
}{
	{"信息化环境", []string{"每班多媒体教室", "每班智慧教室", "人均教师终端"}},
	{"教师结构", []string{"专任教师占比", "30岁以下教师占比", "30-39岁教师占比", "40-49岁教师占比", "50岁及以上教师占比", "任教学科数"}},
	{"研修进度", []string{"人均学时", "人均网络研修学时", "人均实践应用学时", "学时达标率"}},
	{"能力点测评", []string{"能力点测评合格率", "人均通过能力点", "覆盖3个及以上维度的教师占比", "人均通过能力点（维度）", "人均通过能力点（环境）"}},
	{"95%门槛", []string{"专任教师合格率（95%门槛）", "距95%门槛还差人数"}},
}

// SchoolSWOT is a school's 诊断报告（SWOT分析）: one or two pages with its figures beside its
// district's average, each marked by the stated rule, the strengths and weaknesses written
// from the marks, and the opportunities and threats left to the school.
func (rp *Reports) SchoolSWOT(ctx context.Context, p queries.Params) (*Workbook, error) {
	if p.School == "" {
		return nil, apperr.Errorf(apperr.Invalid, "参数错误：缺少学校代码")
	}
	pg, err := rp.base(ctx, "school", "诊断报告", queries.Params{School: p.School})
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, apperr.Errorf(apperr.NotFound, "仓库里还没有数据")
	}
	s, err := rp.swotData(ctx, pg.Params)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s_%s_%s_诊断报告.docx", fileSafe(s.district), p.School, fileSafe(s.name))
	return docWorkbook(name, len(s.items), func(wb *Workbook) (*docx.Document, error) { return s.document(wb), nil }), nil
}

type swotData struct {
	month, code, name, district string
	school                      rec
	items                       []swotItem
	counts                      map[string]float64 // the school's counts (班级数 …) by label
	subjects                    []swotItem
	gaps                        []rec
	gate                        string
	behind                      bool
	sources                     string
	hasRoster                   bool
}

func (rp *Reports) swotData(ctx context.Context, p queries.Params) (*swotData, error) {
	school, err := rp.r.Named(ctx, "school", p, 0)
	if err != nil {
		return nil, err
	}
	if len(school.Rows) == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "学校 %s 在 %s 没有数据", p.School, p.Month)
	}
	s := &swotData{month: p.Month, code: p.School, school: rec{school, school.Rows[0]}, counts: map[string]float64{}}
	s.name, s.district = s.school.str("school_name"), s.school.str("district")
	s.hasRoster = s.school.int("teachers") > 0
	s.gate, s.behind = gateLine(school)
	src, err := rp.sources(ctx, queries.Params{Month: p.Month, School: p.School})
	if err != nil {
		return nil, err
	}
	s.sources = shortSources(src, p.School)
	sw, err := rp.r.Named(ctx, "school_swot", p, 0)
	if err != nil {
		return nil, err
	}
	group := map[string]string{}
	for _, g := range swotGroups {
		for _, l := range g.labels {
			group[l] = g.name
		}
	}
	for _, r := range rows(sw) {
		label, unit := r.str("label"), r.str("unit")
		v, hasV := r.float("value")
		avg, hasAvg := r.float("district_avg")
		it := swotItem{label: label, unit: unit, value: "—", avg: "—", hasValue: hasV, share: v}
		if d := r.str("detail"); d != "" {
			it.label = strings.TrimSuffix(strings.TrimSuffix(label, "（维度）"), "（环境）") + "：" + d
		}
		if hasV {
			it.value = swotText(unit, v, true)
		}
		if hasAvg {
			it.avg = swotText(unit, avg, false)
		}
		hb, judged := r.get("higher_is_better").(bool)
		if label == "距95%门槛还差人数" {
			// a school behind the gate is told so with its shortfall, never praised for
			// being less behind than others
			judged = false
		}
		if hasV && hasAvg {
			sv, sa := swotShown(unit, v, true), swotShown(unit, avg, false)
			if unit == "比例" { // in percentage points, as the table's note says
				it.diff = signed(points(v, avg), 1)
			} else {
				it.diff = signed(sv-sa, 2)
			}
			if judged {
				it.mark, it.higherBetter = swotMark(sv, sa, hb), hb
			}
		}
		if label == "任教学科教师占比" {
			it.group = "学科"
			s.subjects = append(s.subjects, it)
			continue
		}
		g, ok := group[label]
		if !ok { // the school's own counts: 班级数, 多媒体教室数 …
			if hasV {
				s.counts[label] = v
			}
			continue
		}
		it.group = g
		s.items = append(s.items, it)
	}
	// the table in the groups' order, each group's rows as the query orders them
	var ordered []swotItem
	for _, g := range swotGroups {
		for _, it := range s.items {
			if it.group == g.name {
				ordered = append(ordered, it)
			}
		}
	}
	s.items = ordered
	gaps, err := rp.r.Named(ctx, "school_gaps", p, 0)
	if err != nil {
		return nil, err
	}
	s.gaps = rows(gaps)
	return s, nil
}

func (s *swotData) count(label string) string {
	v, ok := s.counts[label]
	if !ok {
		return "未填"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func (s *swotData) title() string {
	return s.name + "\n提升工程2.0诊断报告（SWOT分析）"
}

func (s *swotData) document(wb *Workbook) *docx.Document {
	d := docx.New(docx.Meta{Title: strings.ReplaceAll(s.title(), "\n", ""), Subject: programme, Creator: "tisheng", Created: wb.day(), Compact: true})
	d.Title(s.title())
	d.P(docx.StyleSubtitle, docx.Run{Text: fmt.Sprintf("（%s · 数据截至%s）", s.district, monthLabel(s.month))})

	d.Heading(1, "一、学校基本情况")
	stage := s.school.str("stage")
	if stage == "" {
		stage = "未填"
	}
	basic := fmt.Sprintf("%s（学校代码%s）属%s，学段为%s，有班级%s个、学生%s人，多媒体教室%s间、智慧教室%s间、计算机教室%s间、教师终端%s台。",
		s.name, s.code, s.district, stage, s.count("班级数"), s.count("学生数"), s.count("多媒体教室数"), s.count("智慧教室数"), s.count("计算机教室数"), s.count("教师终端数"))
	if s.hasRoster {
		d.Text(basic + fmt.Sprintf("本月教师名单上有教师%d人，其中专任教师%d人；%s。", s.school.int("teachers"), s.school.int("full_time_teachers"), s.gate))
	} else {
		d.Text(basic + "本校还没有导入教师名单，教师结构、研修进度和能力点测评都无法诊断，下表中这些指标为“—”。请先上传本校的教师名单、学时和测评文件，再下载本报告。")
	}
	d.Note("注：" + s.sources)

	d.Heading(1, "二、与区县平均的对比")
	d.Note(swotRule)
	// the school's largest subjects (the page lists them all)
	var subjects []string
	subj := append([]swotItem{}, s.subjects...)
	sort.SliceStable(subj, func(i, j int) bool { return subj[i].share > subj[j].share })
	for _, it := range subj {
		if it.hasValue && it.value != "0.0%" && len(subjects) < 3 {
			subjects = append(subjects, fmt.Sprintf("%s %s（区县平均%s）", strings.TrimPrefix(it.label, "任教学科教师占比："), it.value, it.avg))
		}
	}
	t := docx.Table{Header: []string{"类别", "指标", "本校", "区县平均", "差异¹", "判断"},
		Align:  []docx.Align{docx.Center, docx.Left, docx.Right, docx.Right, docx.Right, docx.Center},
		Widths: []float64{13, 37, 11, 11, 10, 8}, Merge: []int{0}}
	for _, it := range s.items {
		mark := it.mark
		if mark == "" {
			mark = "—"
		}
		diff := it.diff
		if diff == "" {
			diff = "—"
		}
		t.Rows = append(t.Rows, []string{it.group, it.label, it.value, it.avg, diff, mark})
	}
	t.Bold = func(row, col int) bool {
		return col == 0 || col == 5 && (t.Rows[row][5] == "优势" || t.Rows[row][5] == "劣势")
	}
	d.Table(t)
	if len(subjects) > 0 {
		d.Note("注：1.比例的差异为百分点。2.本校教师最多的学科：" + strings.Join(subjects, "，") + "。")
	} else {
		d.Note("注：比例的差异为百分点。")
	}

	d.Heading(1, "三、优势（S）")
	n := 0
	for _, line := range s.marked("优势") {
		n++
		d.Text(fmt.Sprintf("%d.%s", n, line))
	}
	if n == 0 {
		d.Text("按上述规则，本校没有明显好于区县平均的指标。")
	}

	d.Heading(1, "四、劣势（W）")
	n = 0
	for _, line := range s.marked("劣势") {
		n++
		d.Text(fmt.Sprintf("%d.%s", n, line))
	}
	var dims, envs []string
	for _, g := range s.gaps {
		if g.str("kind") == "dimension" {
			dims = append(dims, "“"+g.str("name")+"”")
		} else {
			envs = append(envs, "“"+g.str("name")+"”")
		}
	}
	if s.hasRoster && len(dims)+len(envs) > 0 {
		n++
		var parts []string
		if len(dims) > 0 {
			parts = append(parts, joinCN(dims)+"维度")
		}
		if len(envs) > 0 {
			parts = append(parts, joinCN(envs))
		}
		d.Text(fmt.Sprintf("%d.本校还没有教师通过%s的能力点。", n, strings.Join(parts, "和")))
	}
	if s.behind {
		n++
		d.Text(fmt.Sprintf("%d.专任教师合格率尚未达到95%%门槛，还差%d人，暂不具备参加整校推进绩效考核的条件。", n, s.school.int("shortfall")))
	}
	if n == 0 {
		d.Text("按上述规则，本校没有明显差于区县平均的指标。")
	}

	d.Heading(1, "五、机会（O）与威胁（T）")
	d.P(docx.StylePrompt, docx.Run{Text: "机会：【请学校填写】政策经费、培训教研资源等有利条件。"})
	d.P(docx.StylePrompt, docx.Run{Text: "威胁：【请学校填写】工作负担、设备老化等不利因素。"})
	closing(d, wb, "【请填写学校名称（盖章）】", false)
	return d
}

// marked says the figures of one mark, one sentence per group (研修进度：学时达标率
// 100.0%，…); their district averages are in the table above.
func (s *swotData) marked(mark string) []string {
	var out []string
	for _, g := range swotGroups {
		if g.name == "95%门槛" && mark == "劣势" && s.behind {
			continue // said once, with the shortfall, below
		}
		var parts []string
		prefix := ""
		for _, it := range s.items {
			if it.group != g.name || it.mark != mark {
				continue
			}
			// per-dimension figures share their label: 人均通过能力点：学情分析0.35、学业评价0.29
			if head, detail, ok := strings.Cut(it.label, "："); ok {
				if head == prefix {
					parts[len(parts)-1] += "、" + detail + it.value
					continue
				}
				prefix = head
			} else {
				prefix = ""
			}
			parts = append(parts, it.label+it.value)
		}
		if len(parts) > 0 {
			out = append(out, g.name+"："+strings.Join(parts, "，")+"。")
		}
	}
	return out
}

// SchoolSWOTZip is the 诊断报告 of every school in the caller's view (a district's
// schools), one .docx each, in one zip.
func (rp *Reports) SchoolSWOTZip(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "schools", "诊断报告", queries.Params{District: p.District})
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, apperr.Errorf(apperr.NotFound, "仓库里还没有数据")
	}
	schools, err := rp.r.Named(ctx, "schools", pg.Params, 0)
	if err != nil {
		return nil, err
	}
	var docs []*Workbook
	for _, r := range rows(schools) {
		wb, err := rp.SchoolSWOT(ctx, queries.Params{District: p.District, School: r.str("school_code")})
		if err != nil {
			return nil, err
		}
		docs = append(docs, wb)
	}
	scope := p.District
	if scope == "" {
		scope = "全部区县"
	}
	wb := &Workbook{FileName: fmt.Sprintf("%s_%s_诊断报告.zip", monthLabel(pg.Params.Month), fileSafe(scope)), Rows: len(docs)}
	wb.write = func(w io.Writer) error {
		z := zip.NewWriter(w)
		if len(docs) == 0 {
			f, err := z.Create("说明.txt")
			if err != nil {
				return err
			}
			if _, err := io.WriteString(f, scope+"在"+monthLabel(pg.Params.Month)+"没有学校，没有诊断报告可下载。\r\n"); err != nil {
				return err
			}
		}
		for _, doc := range docs {
			doc.Unit, doc.Date = wb.Unit, wb.Date
			var buf bytes.Buffer
			if err := doc.Write(&buf); err != nil {
				return err
			}
			f, err := z.CreateHeader(&zip.FileHeader{Name: doc.FileName, Method: zip.Deflate, Flags: 0x800}) // UTF-8 names
			if err != nil {
				return err
			}
			if _, err := f.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		return z.Close()
	}
	return wb, nil
}

// shortSources is the school's 数据截止日期, kinds with one date named together
// (教师名单、学时明细 2025-06-30), a stale file marked as sourceLine marks it.
func shortSources(src *sources, school string) string {
	var dates []string
	kinds := map[string][]string{}
	for _, k := range src.kinds {
		ls, ok := src.perSchool[school+"\x00"+k]
		if !ok {
			continue
		}
		date := ls[1]
		for _, st := range src.school[school] {
			if strings.HasPrefix(st, ls[0]+" ") {
				date += "（数据滞后）"
			}
		}
		if _, seen := kinds[date]; !seen {
			dates = append(dates, date)
		}
		kinds[date] = append(kinds[date], ls[0])
	}
	if len(dates) == 0 {
		return "数据截止日期：—"
	}
	var parts []string
	for _, d := range dates {
		parts = append(parts, strings.Join(kinds[d], "、")+" "+d)
	}
	return "数据截止日期：" + strings.Join(parts, "；")
}
