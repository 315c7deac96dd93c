package reports

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"tisheng/internal/apperr"

	"tisheng/internal/docx"
	"tisheng/queries"
)

// annualData is what the 年度实施情况报告 is written from: the named queries at the month
// closing the year (the year's last month with data).
type annualData struct {
	year, month string
	months      []string // every month with data, newest first
	scope       string   // the district, or "" for all
	overview    rec
	groups      *queries.Result
	choices     *queries.Result
	uncovered   *queries.Result
	unrostered  *queries.Result
	schools     *queries.Result
	districts   *queries.Result
	trend       []rec // the year's months, oldest first
	before      *rec  // the month before the year's first, when there is one
	src         *sources
	profile     string
	figures     int // charts numbered so far
	// each district's months, when the report covers several
	districtTrends []districtTrend
}

// figure numbers the next chart.
func (a *annualData) figure() int {
	a.figures++
	return a.figures
}

// AnnualDoc is the 年度实施情况报告 for a year (empty: the latest year with data), as an
// editable Word document in the 公文 layout. A district's is written from the district's
// own database (the caller passes the district's reports, as for the 年报), and p.District
// names it.
func (rp *Reports) AnnualDoc(ctx context.Context, year string, p queries.Params) (*Workbook, error) {
	year, err := ParseYear(year)
	if err != nil {
		return nil, err
	}
	// base refuses a district that has no school (404, as the 年报 and the pages)
	pg, err := rp.base(ctx, "overview", "年度实施情况报告", queries.Params{District: p.District})
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, apperr.Errorf(apperr.NotFound, "仓库里还没有数据")
	}
	a := &annualData{year: year, months: pg.Months, scope: p.District, profile: profileName(pg)}
	if a.year == "" {
		a.year = pg.Months[0][:4]
	}
	for _, m := range pg.Months { // newest first: the first of the year is its last month
		if strings.HasPrefix(m, a.year+"-") {
			a.month = m
			break
		}
	}
	scopeName := "全部区县"
	if p.District != "" {
		scopeName = p.District
	}
	name := fmt.Sprintf("%s年度_%s_提升工程2.0实施情况报告.docx", a.year, fileSafe(scopeName))
	if a.month == "" {
		return docWorkbook(name, 0, func(wb *Workbook) (*docx.Document, error) { return a.emptyYear(wb), nil }), nil
	}
	q := queries.Params{Month: a.month, District: p.District}
	get := func(name string) (*queries.Result, error) {
		res, err := rp.r.Named(ctx, name, q, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return res, nil
	}
	ov, err := get("annual_overview")
	if err != nil {
		return nil, err
	}
	a.overview = rec{ov, ov.Rows[0]}
	if a.groups, err = get("annual_groups"); err != nil {
		return nil, err
	}
	if a.choices, err = get("annual_choices"); err != nil {
		return nil, err
	}
	if a.uncovered, err = get("annual_uncovered"); err != nil {
		return nil, err
	}
	if a.unrostered, err = get("annual_unrostered"); err != nil {
		return nil, err
	}
	if a.schools, err = get("schools"); err != nil {
		return nil, err
	}
	if a.districts, err = get("overview_districts"); err != nil {
		return nil, err
	}
	trend, err := get("trend")
	if err != nil {
		return nil, err
	}
	a.trend, a.before = splitTrend(trend, a.year)
	if p.District == "" && len(a.districts.Rows) > 1 {
		for _, r := range rows(a.districts) {
			dist := r.str("district")
			res, err := rp.r.Named(ctx, "trend", queries.Params{Month: a.month, District: dist}, 0)
			if err != nil {
				return nil, fmt.Errorf("trend: %w", err)
			}
			dt := districtTrend{district: dist}
			dt.trend, dt.before = splitTrend(res, a.year)
			a.districtTrends = append(a.districtTrends, dt)
		}
	}
	if a.src, err = rp.sources(ctx, q); err != nil {
		return nil, err
	}
	return docWorkbook(name, len(a.schools.Rows), func(wb *Workbook) (*docx.Document, error) { return a.document(wb), nil }), nil
}

// where names the scope in a sentence: the district, or "N个区县".
func (a *annualData) where() string {
	if a.scope != "" {
		return a.scope
	}
	if n := a.overview.int("districts"); n > 0 {
		return fmt.Sprintf("%d个区县", n)
	}
	return "全部区县"
}

func (a *annualData) title() string {
	return fmt.Sprintf("%s%s年度中小学教师信息技术\n应用能力提升工程2.0实施情况报告", a.scope, a.year)
}

func newDoc(wb *Workbook, title string) *docx.Document {
	return docx.New(docx.Meta{Title: strings.ReplaceAll(title, "\n", ""), Subject: programme, Creator: "tisheng", Created: wb.day()})
}

// closing is the issuing unit and date at the end (GB/T 9704 §7.3.5): the unit given, or
// a prompt to write it.
func closing(d *docx.Document, wb *Workbook, unitPrompt string, blank bool) {
	if blank {
		d.Text("")
	}
	if wb.Unit != "" {
		d.Closing(wb.Unit)
	} else {
		d.PAlign(docx.StyleClosing, docx.Right, docx.Run{Text: unitPrompt, Mark: true})
	}
	d.Closing(cnDate(wb.day()))
}

func (a *annualData) emptyYear(wb *Workbook) *docx.Document {
	d := newDoc(wb, a.title())
	d.Title(a.title())
	oldest, newest := a.months[len(a.months)-1], a.months[0]
	d.Heading(1, "一、基本情况")
	d.Text(fmt.Sprintf("%s年没有任何数据：仓库中的数据从%s到%s，这一年没有导入学校信息、教师名单、学时或测评文件，因此本报告没有可以统计的数字，也不附表和图。",
		a.year, monthLabel(oldest), monthLabel(newest)))
	d.Text(fmt.Sprintf("如需%s年的报告，请先导入该年各月的导出文件并刷新；如需最近一年的报告，请选择%s年。", a.year, newest[:4]))
	d.Heading(1, "二、主要做法")
	d.Prompt("【请填写】本年度的主要做法（如有）。")
	d.Heading(1, "三、取得成效")
	d.Text(a.year + "年没有数据，无法统计成效。")
	d.Heading(1, "四、存在问题")
	d.Text(a.year + "年没有导入数据，是需要说明的问题本身。")
	d.Heading(1, "五、下一步工作")
	d.Prompt("【请填写】下一步工作安排。")
	closing(d, wb, "【请填写发文单位】", true)
	return d
}

func (a *annualData) document(wb *Workbook) *docx.Document {
	d := newDoc(wb, a.title())
	ov := a.overview
	d.Title(a.title())
	d.P(docx.StyleSubtitle, docx.Run{Text: fmt.Sprintf("（数据截至%s）", monthLabel(a.month))})
	d.PAlign(docx.StyleNormal, docx.Left, docx.Run{Text: "【请填写主送机关，如：××省教育厅：】", Mark: true})
	d.Text(fmt.Sprintf("现将%s%s年度中小学教师信息技术应用能力提升工程2.0（以下简称“提升工程2.0”）实施情况报告如下。", a.where(), a.year))

	// 一、基本情况
	d.Heading(1, "一、基本情况")
	teachers := ov.int("teachers")
	if teachers == 0 {
		d.Text(fmt.Sprintf("截至%s，%s的学校名单上有%d所学校，但还没有导入任何教师名单，因此没有教师可以统计。请先导入教师名单、学时和测评文件。",
			monthLabel(a.month), a.where(), ov.int("schools")))
	} else {
		d.Text(fmt.Sprintf("截至%s，%s共有%d所学校纳入统计，名单内教师%d人，其中专任教师%d人。",
			monthLabel(a.month), a.where(), ov.int("schools"), teachers, ov.int("full_time_teachers")))
		d.Text(fmt.Sprintf("本年度共有%d名教师参加研修（有学时记录），参训率%s。教师人均网络研修%s学时、人均实践应用%s学时。",
			ov.int("participated"), ov.rate("participation_rate"), ov.dec("avg_hours_online"), ov.dec("avg_hours_practice")))
	}
	d.Note(a.dataNote())

	// 二、主要做法
	d.Heading(1, "二、主要做法")
	d.Prompt("【请填写】本部分由工程办根据本年度实际工作撰写，系统不代写。可按以下提纲组织，写实际做过的事，不用的条目请删除。")
	for _, h := range [][2]string{
		{"（一）组织管理与制度保障", "【请填写】工程办的组织机构、印发的文件与制度、经费保障等。"},
		{"（二）培训团队与资源建设", "【请填写】市、区、校三级培训团队的组建与培训，课程与资源建设情况。"},
		{"（三）整校推进与校本研修", "【请填写】整校推进、混合式校本研修的组织方式和典型做法。"},
		{"（四）测评认定与督导考核", "【请填写】能力点测评认定、过程督导、考核评价与激励措施。"},
	} {
		d.Heading(2, h[0])
		d.Prompt(h[1])
	}

	// 三、取得成效
	d.Heading(1, "三、取得成效")
	if teachers == 0 {
		d.Text("本年度还没有教师数据，暂无成效可统计。")
	} else {
		a.results(d)
	}

	// 四、存在问题
	d.Heading(1, "四、存在问题")
	a.problems(d)

	// 五、下一步工作
	d.Heading(1, "五、下一步工作")
	d.Prompt("【请填写】本部分由工程办撰写。可针对上文“存在问题”逐条写出措施、责任单位和完成时间，不用的条目请删除。")
	below := a.belowGate()
	next := [][2]string{
		{"（一）推动未达门槛学校达标", fmt.Sprintf("【请填写】针对还未达到95%%门槛的%d所学校（见附表2）的督促、帮扶措施和时间节点。", len(below))},
		{"（二）补齐薄弱环节", "【请填写】针对完成率偏低的学段、学科、年龄段和无人覆盖的维度、环境的培训安排。"},
		{"（三）提高数据质量", "【请填写】督促各校按月上传最新的导出文件、核实花名册的安排。"},
	}
	for _, h := range next {
		d.Heading(2, h[0])
		d.Prompt(h[1])
	}
	closing(d, wb, "【请填写发文单位】", true)

	// 附表
	d.PageBreak()
	d.Heading(1, "附表")
	if teachers == 0 {
		d.Text("本年度还没有教师数据，不附表。")
		return d
	}
	a.appendices(d)
	return d
}

// dataNote says where the figures come from and how rates are rounded.
func (a *annualData) dataNote() string {
	var dates []string
	for _, k := range a.src.kinds {
		dates = append(dates, queries.KindLabel(k)+" "+a.src.latest[k])
	}
	s := fmt.Sprintf("说明：本报告数据取自提升工程2.0数据仓库，统计月份为%s（规则方案：%s）", monthLabel(a.month), a.profile)
	if len(dates) > 0 {
		s += "，各类文件的数据截止日期为：" + strings.Join(dates, "，")
	}
	return s + "。比例均四舍五入保留一位小数，与同期年报、月报和系统页面一致。"
}

func (a *annualData) groupRows(by string) []rec {
	var out []rec
	for _, r := range rows(a.groups) {
		if r.str("group_by") == by {
			out = append(out, r)
		}
	}
	return out
}

func (a *annualData) belowGate() []rec {
	var out []rec
	for _, r := range rows(a.schools) {
		if r.get("gate_met") == false {
			out = append(out, r)
		}
	}
	return out
}

// results is 三、取得成效: completion, assessment, points, the gate, month by month and,
// with several districts, how they compare.
func (a *annualData) results(d *docx.Document) {
	ov := a.overview
	d.Heading(2, "（一）培训完成情况")
	d.Text(fmt.Sprintf("截至%s，完成培训（学时达标且能力点测评合格）的教师%d人，完成率%s；能力点测评合格%d人，合格率%s；其中有能力点获评优秀的教师%d人，优秀率%s。",
		monthLabel(a.month), ov.int("complete"), ov.rate("completion_rate"), ov.int("assessment_passed"), ov.rate("pass_rate"),
		ov.int("excellent"), ov.rate("excellent_rate")))

	d.Heading(2, "（二）能力点应用情况")
	d.Text(fmt.Sprintf("通过的能力点覆盖3个及以上维度的教师%d人，占%s。", ov.int("three_dimension_teachers"), ov.rate("three_dimension_share")))
	var codes []rec
	for _, r := range rows(a.choices) {
		if r.str("by") == "code" && r.int("teachers_chose") > 0 {
			codes = append(codes, r)
		}
	}
	sortRecs(codes, func(x, y rec) bool { return x.int("teachers_chose") > y.int("teachers_chose") })
	if len(codes) > 0 {
		var top []string
		for i, r := range codes {
			if i == 5 {
				break
			}
			top = append(top, fmt.Sprintf("%s %s（%d人）", r.str("code"), r.str("ability_name"), r.int("teachers_chose")))
		}
		d.Text(fmt.Sprintf("教师选择最多的能力点依次是%s。", strings.Join(top, "、")))
		for _, by := range []struct{ key, label string }{{"dimension", "维度"}, {"environment", "环境"}} {
			var best rec
			for _, r := range rows(a.choices) {
				if r.str("by") == by.key && r.int("teachers_chose") > best.int("teachers_chose") {
					best = r
				}
			}
			if best.row != nil {
				d.Text(fmt.Sprintf("按%s看，选择人数最多的是%s（%d人，其中通过%d人）。", by.label, best.str(by.key), best.int("teachers_chose"), best.int("teachers_passed")))
			}
		}
	} else {
		d.Text("本年度还没有教师提交能力点测评结果。")
	}

	d.Heading(2, "（三）整校推进情况")
	withFT, met := ov.int("schools_with_full_time"), ov.int("schools_gate_met")
	switch {
	case withFT == 0:
		d.Text("统计范围内还没有学校有专任教师，不计95%门槛。")
	case met == 0:
		d.Text(fmt.Sprintf("有专任教师的%d所学校中，还没有一所学校的专任教师合格率达到95%%，没有学校具备参加整校推进绩效考核的条件。", withFT))
	default:
		d.Text(fmt.Sprintf("有专任教师的%d所学校中，%d所学校的专任教师合格率达到95%%，具备参加整校推进绩效考核的条件，占%s。",
			withFT, met, queries.FormatRate(queries.RoundRate(float64(met)/float64(withFT)))))
	}

	d.Heading(2, "（四）逐月进展")
	a.progress(d)
	if len(a.trend) > 0 {
		d.Caption(fmt.Sprintf("图%d %s年逐月学时达标率、测评合格率与完成率", a.figure(), a.year))
		var cats []string
		var hours, pass, done []float64
		for _, r := range a.trend {
			cats = append(cats, monthLabel(r.str("month")))
			hours = append(hours, floatOr(r, "hours_completion"))
			pass = append(pass, floatOr(r, "assessment_pass_rate"))
			done = append(done, floatOr(r, "completion_rate"))
		}
		d.Chart(docx.Chart{Kind: docx.Line, Percent: true, Categories: cats, HeightMM: 80,
			AltText: "逐月学时达标率、测评合格率与完成率折线图",
			Series:  []docx.Series{{Name: "学时达标率", Values: hours}, {Name: "测评合格率", Values: pass}, {Name: "完成率", Values: done}}})
	}

	d.Heading(2, "（五）分组情况")
	a.comparison(d)
}

func floatOr(r rec, col string) float64 {
	if f, ok := r.float(col); ok {
		return f
	}
	return math.NaN()
}

// progress says how completion moved month by month, and the month it rose most.
func (a *annualData) progress(d *docx.Document) {
	if len(a.trend) == 0 {
		d.Text(a.year + "年没有逐月数据。")
		return
	}
	first, last := a.trend[0], a.trend[len(a.trend)-1]
	if len(a.trend) == 1 && a.before == nil {
		d.Text(fmt.Sprintf("本年度只有%s一个月的数据，完成率%s，尚不能看出逐月变化。", monthLabel(first.str("month")), first.rate("completion_rate")))
		return
	}
	start := first
	if len(a.trend) == 1 {
		start = *a.before
	}
	d.Text(fmt.Sprintf("从%s到%s，完成率由%s变为%s（完成人数由%d人变为%d人），学时达标率由%s变为%s。",
		monthLabel(start.str("month")), monthLabel(last.str("month")), start.rate("completion_rate"), last.rate("completion_rate"),
		start.int("complete"), last.int("complete"), start.rate("hours_completion"), last.rate("hours_completion")))
	best, from, rise := bestRise(a.trend, a.before)
	if best.row == nil {
		d.Text("各月完成率没有比上月提高的月份。")
		return
	}
	d.Text(fmt.Sprintf("完成率提高最多的是%s，比%s提高%s（由%s提高到%s）。",
		monthLabel(best.str("month")), monthLabel(from.str("month")), pointsText(rise), from.rate("completion_rate"), best.rate("completion_rate")))
	if len(a.districtTrends) < 2 {
		return
	}
	var parts []string
	for _, dt := range a.districtTrends {
		if b, _, r := bestRise(dt.trend, dt.before); b.row != nil {
			parts = append(parts, fmt.Sprintf("%s在%s（提高%s）", dt.district, monthLabel(b.str("month")), pointsText(r)))
		} else {
			parts = append(parts, dt.district+"没有提高的月份")
		}
	}
	d.Text("分区县看，完成率提高最多的月份：" + strings.Join(parts, "，") + "。")
}

// districtTrend is one district's months of the year, and the month before them.
type districtTrend struct {
	district string
	trend    []rec
	before   *rec
}

// bestRise finds the month whose completion rate rose most over the month before it (the
// year's first month against the last month of the year before, when there is one), in
// percentage points of the shown rates; no row when no month rose.
func bestRise(trend []rec, before *rec) (best, from rec, rise float64) {
	for i := range trend {
		var p *rec
		if i > 0 {
			p = &trend[i-1]
		} else {
			p = before
		}
		if p == nil {
			continue
		}
		cur, ok1 := trend[i].float("completion_rate")
		old, ok2 := p.float("completion_rate")
		if !ok1 || !ok2 {
			continue
		}
		if r := points(cur, old); r > rise {
			best, from, rise = trend[i], *p, r
		}
	}
	return best, from, rise
}

// splitTrend keeps a trend's months of the year, and the month before them.
func splitTrend(res *queries.Result, year string) ([]rec, *rec) {
	var in []rec
	var before *rec
	for _, r := range rows(res) {
		m := r.str("month")
		if strings.HasPrefix(m, year+"-") {
			in = append(in, r)
		} else if m < year {
			r := r
			before = &r
		}
	}
	return in, before
}

// comparison: districts (several) or 学段 (one district), with the chart of rates.
func (a *annualData) comparison(d *docx.Document) {
	// the first of district, 学段 and school with several groups to compare
	var label string
	var groups []rec
	for _, g := range []struct{ by, label string }{{"district", "区县"}, {"stage", "学段"}, {"school", "学校"}} {
		label, groups = g.label, a.groupRows(g.by)
		if len(groups) >= 2 {
			break
		}
	}
	if len(groups) == 0 {
		d.Text("没有可比较的分组。")
		return
	}
	if len(groups) >= 2 {
		hi, lo := groups[0], groups[0]
		for _, g := range groups {
			c, _ := g.float("completion_rate")
			if h, _ := hi.float("completion_rate"); c > h {
				hi = g
			}
			if l, _ := lo.float("completion_rate"); c < l {
				lo = g
			}
		}
		d.Text(fmt.Sprintf("按%s看，完成率最高的是%s（%s，%d人），最低的是%s（%s，%d人），相差%s。",
			label, hi.str("group_value"), hi.rate("completion_rate"), hi.int("teachers"),
			lo.str("group_value"), lo.rate("completion_rate"), lo.int("teachers"),
			pointsText(points(floatOr(hi, "completion_rate"), floatOr(lo, "completion_rate")))))
	} else {
		d.Text(fmt.Sprintf("%s只有一所学校（%s），没有可比较的分组。", a.where(), groups[0].str("group_value")))
	}
	var cats []string
	var part, done, pass []float64
	for _, g := range groups {
		cats = append(cats, g.str("group_value"))
		part = append(part, floatOr(g, "participation_rate"))
		done = append(done, floatOr(g, "completion_rate"))
		pass = append(pass, floatOr(g, "pass_rate"))
	}
	d.Caption(fmt.Sprintf("图%d 各%s参训率、完成率与合格率", a.figure(), label))
	d.Chart(docx.Chart{Kind: docx.Bar, Percent: true, Labels: len(cats) <= 6, Categories: cats, HeightMM: 80,
		AltText: "各" + label + "参训率、完成率与合格率柱状图",
		Series:  []docx.Series{{Name: "参训率", Values: part}, {Name: "完成率", Values: done}, {Name: "合格率", Values: pass}}})
}

// problems is 四、存在问题, each from the data: schools behind the gate, points and
// dimensions nobody covers, the weakest groups, stale files and people on no roster.
func (a *annualData) problems(d *docx.Document) {
	ov := a.overview
	d.Heading(2, "（一）95%门槛")
	below := a.belowGate()
	withFT := ov.int("schools_with_full_time")
	switch {
	case withFT == 0:
		d.Text("还没有学校有专任教师数据，无法判断95%门槛。")
	case len(below) == 0:
		d.Text(fmt.Sprintf("有专任教师的%d所学校已全部达到95%%门槛。", withFT))
	default:
		var short int64
		for _, r := range below {
			short += r.int("shortfall")
		}
		s := fmt.Sprintf("截至%s，有专任教师的%d所学校中还有%d所未达到95%%门槛，合计还差%d名专任教师通过测评",
			monthLabel(a.month), withFT, len(below), short)
		if a.scope == "" && len(a.districts.Rows) > 1 {
			var parts []string
			for _, r := range rows(a.districts) {
				n := r.int("schools_with_full_time") - r.int("schools_gate_met")
				if n > 0 {
					parts = append(parts, fmt.Sprintf("%s %d所（差%d人）", r.str("district"), n, r.int("shortfall")))
				}
			}
			s += "：" + strings.Join(parts, "，")
		}
		d.Text(s + "。")
		var worst []string
		for i, r := range below {
			if i == 5 {
				break
			}
			worst = append(worst, fmt.Sprintf("%s（专任教师合格率%s，还差%d人）", r.str("school_name"), r.rate("pass_rate"), r.int("shortfall")))
		}
		d.Text(fmt.Sprintf("差距最大的是%s。各校明细见附表2。", strings.Join(worst, "、")))
	}
	var notLoaded []string
	for _, r := range rows(a.schools) {
		if r.get("teachers") == nil {
			notLoaded = append(notLoaded, r.str("school_name"))
		}
	}
	if len(notLoaded) > 0 {
		d.Text(fmt.Sprintf("另有%d所学校在学校名单上，但还没有导入教师名单：%s。", len(notLoaded), strings.Join(firstN(notLoaded, 10), "、")) + more(notLoaded, 10))
	}

	d.Heading(2, "（二）能力点覆盖")
	if len(a.uncovered.Rows) == 0 {
		d.Text("各区县在能力点目录的每个维度和每种环境中都有教师通过能力点。")
	} else {
		by := map[string][]string{}
		var order []string
		for _, r := range rows(a.uncovered) {
			k := r.str("district")
			if _, ok := by[k]; !ok {
				order = append(order, k)
			}
			kind := "维度"
			if r.str("kind") == "environment" {
				kind = ""
			}
			by[k] = append(by[k], "“"+r.str("uncovered")+"”"+kind)
		}
		for _, k := range order {
			d.Text(fmt.Sprintf("%s还没有教师通过%s的能力点。", k, joinCN(by[k])))
		}
	}
	var never []string
	for _, r := range rows(a.choices) {
		if r.str("by") == "code" && r.int("teachers_chose") == 0 {
			never = append(never, r.str("code"))
		}
	}
	if len(never) > 0 {
		// the codes are in 附表6 (as 0): a long run of codes breaks badly in justified text
		examples := strings.Join(firstN(never, 3), "、")
		if len(never) > 3 {
			examples = "如" + examples + "等"
		}
		d.Text(fmt.Sprintf("能力点目录中有%d个能力点本年度没有教师选择，%s（见附表6中选择人数为0的行）。", len(never), examples))
	}

	d.Heading(2, "（三）薄弱群体")
	var weak []string
	for _, g := range []struct{ by, label string }{{"stage", "学段"}, {"subject", "学科"}, {"age_band", "年龄段"}} {
		rs := a.groupRows(g.by)
		if len(rs) < 2 {
			continue
		}
		lo := rs[0]
		for _, r := range rs {
			if floatOr(r, "completion_rate") < floatOr(lo, "completion_rate") {
				lo = r
			}
		}
		weak = append(weak, fmt.Sprintf("%s中是%s（完成率%s，%d人）", g.label, lo.str("group_value"), lo.rate("completion_rate"), lo.int("teachers")))
	}
	if len(weak) == 0 {
		d.Text("学段、学科和年龄段的分组都只有一组，无法比较。")
	} else {
		d.Text(fmt.Sprintf("完成率最低的：%s（全体为%s）。各组明细见附表3至附表5。", strings.Join(weak, "；"), ov.rate("completion_rate")))
	}

	d.Heading(2, "（四）数据报送")
	if len(a.src.staleCodes) > 0 {
		var ds []string
		for k := range a.src.district {
			ds = append(ds, k)
		}
		sort.Strings(ds)
		var parts []string
		for _, k := range ds {
			parts = append(parts, fmt.Sprintf("%s%d所（%s）", k, a.src.district[k], strings.Join(a.src.districtAt[k], "、")))
		}
		d.Text(fmt.Sprintf("%d所学校%s的数据来自更早月份的导出文件，数字可能偏低：%s。这些学校应尽快上传当月的导出文件。",
			len(a.src.staleCodes), monthLabel(a.month), strings.Join(parts, "，")))
	} else {
		d.Text(fmt.Sprintf("各学校%s的数据均来自当月的导出文件，没有数据滞后的学校。", monthLabel(a.month)))
	}
	var people, hourRows int64
	var parts []string
	for _, r := range rows(a.unrostered) {
		people += r.int("teachers")
		hourRows += r.int("hour_rows")
		parts = append(parts, fmt.Sprintf("%s %d人", r.str("district"), r.int("teachers")))
	}
	if people > 0 {
		s := fmt.Sprintf("有%d人在%s的学时文件中有学时记录（共%d行），但不在任何有效的教师名单中，其学时没有计入统计", people, monthLabel(a.month), hourRows)
		if len(parts) > 1 {
			s += "（" + strings.Join(parts, "，") + "）"
		}
		d.Text(s + "，需核实教师名单是否遗漏。")
	} else {
		d.Text("学时文件中的记录都能对应到教师名单上的教师。")
	}
}

func firstN(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

func more(xs []string, n int) string {
	if len(xs) > n {
		return fmt.Sprintf("（另有%d所未列出）", len(xs)-n)
	}
	return ""
}

// appendices are the 附表: real tables whose header row repeats on every page.
func (a *annualData) appendices(d *docx.Document) {
	R, L, C := docx.Right, docx.Left, docx.Center
	n := 0
	caption := func(s string) {
		n++
		d.Caption(fmt.Sprintf("附表%d %s", n, s))
	}

	// 1 districts
	caption("各区县情况")
	byDistrict := map[string]rec{}
	for _, g := range a.groupRows("district") {
		byDistrict[g.str("group_value")] = g
	}
	t := docx.Table{Header: []string{"区县", "学校数", "达到门槛学校数", "教师数", "参训率", "完成率", "合格率", "优秀率", "距门槛还差（人）"},
		Align: []docx.Align{L, R, R, R, R, R, R, R, R}}
	for _, r := range rows(a.districts) {
		g := byDistrict[r.str("district")]
		if r.get("teachers") == nil {
			t.Rows = append(t.Rows, []string{r.str("district"), fmt.Sprint(r.int("schools")), "未导入", "未导入", "—", "—", "—", "—", "—"})
			continue
		}
		t.Rows = append(t.Rows, []string{r.str("district"), fmt.Sprint(r.int("schools")), fmt.Sprint(r.int("schools_gate_met")), fmt.Sprint(r.int("teachers")),
			g.rate("participation_rate"), g.rate("completion_rate"), g.rate("pass_rate"), g.rate("excellent_rate"), fmt.Sprint(r.int("shortfall"))})
	}
	d.Table(t)

	// 2 schools, behind the gate first
	caption("各学校情况（未达门槛的学校在前）")
	showDistrict := a.scope == ""
	hdr := []string{"学校"}
	al := []docx.Align{L}
	if showDistrict {
		hdr, al = append(hdr, "区县"), append(al, L)
	}
	hdr = append(hdr, "教师数", "专任教师", "合格专任教师", "专任教师合格率", "95%门槛", "还差（人）", "学时达标率")
	al = append(al, R, R, R, R, C, R, R)
	t = docx.Table{Header: hdr, Align: al}
	behind := map[int]bool{}
	for i, r := range rows(a.schools) {
		row := []string{r.str("school_name")}
		if showDistrict {
			row = append(row, r.str("district"))
		}
		if r.get("teachers") == nil {
			row = append(row, "未导入", "—", "—", "—", "未导入名单", "—", "—")
		} else {
			gate := "无专任教师"
			switch r.get("gate_met") {
			case true:
				gate = "达标"
			case false:
				gate, behind[i] = "未达标", true
			}
			row = append(row, fmt.Sprint(r.int("teachers")), fmt.Sprint(r.int("full_time_teachers")), fmt.Sprint(r.int("passed_full_time")),
				r.rate("pass_rate"), gate, fmt.Sprint(r.int("shortfall")), r.rate("hours_completion"))
		}
		t.Rows = append(t.Rows, row)
	}
	gateCol := len(hdr) - 3
	t.Bold = func(row, col int) bool { return behind[row] && (col == gateCol || col == gateCol+1) }
	d.Table(t)

	// 3–5 stage, subject, age band
	for _, g := range []struct{ by, label string }{{"stage", "学段"}, {"subject", "学科"}, {"age_band", "年龄段"}} {
		caption("按" + g.label + "统计")
		t := docx.Table{Header: []string{g.label, "教师数", "参训率", "完成率", "合格率", "优秀率", "人均网络研修学时", "人均实践应用学时"},
			Align: []docx.Align{L, R, R, R, R, R, R, R}}
		for _, r := range a.groupRows(g.by) {
			t.Rows = append(t.Rows, []string{r.str("group_value"), fmt.Sprint(r.int("teachers")), r.rate("participation_rate"), r.rate("completion_rate"),
				r.rate("pass_rate"), r.rate("excellent_rate"), r.dec("avg_hours_online"), r.dec("avg_hours_practice")})
		}
		d.Table(t)
	}

	// 6 points, 7 dimensions and environments
	caption("能力点选择与通过情况")
	t = docx.Table{Header: []string{"能力点", "名称", "维度", "环境", "选择人数", "通过人数", "优秀人数", "通过率"},
		Align: []docx.Align{L, L, L, L, R, R, R, R}}
	for _, r := range rows(a.choices) {
		if r.str("by") != "code" {
			continue
		}
		t.Rows = append(t.Rows, []string{r.str("code"), r.str("ability_name"), r.str("dimension"), r.str("environment"),
			fmt.Sprint(r.int("teachers_chose")), fmt.Sprint(r.int("teachers_passed")), fmt.Sprint(r.int("teachers_excellent")), r.rate("pass_rate")})
	}
	d.Table(t)
	caption("按维度和环境的选择与通过情况")
	t = docx.Table{Header: []string{"类别", "维度或环境", "选择人数", "通过人数", "优秀人数", "通过率"}, Align: []docx.Align{L, L, R, R, R, R}}
	for _, r := range rows(a.choices) {
		switch r.str("by") {
		case "dimension":
			t.Rows = append(t.Rows, []string{"维度", r.str("dimension"), fmt.Sprint(r.int("teachers_chose")), fmt.Sprint(r.int("teachers_passed")), fmt.Sprint(r.int("teachers_excellent")), r.rate("pass_rate")})
		case "environment":
			t.Rows = append(t.Rows, []string{"环境", r.str("environment"), fmt.Sprint(r.int("teachers_chose")), fmt.Sprint(r.int("teachers_passed")), fmt.Sprint(r.int("teachers_excellent")), r.rate("pass_rate")})
		}
	}
	d.Table(t)

	// 8 months
	caption(a.year + "年逐月进度")
	t = docx.Table{Header: []string{"月份", "教师数", "学时达标率", "测评合格率", "完成率", "完成人数", "达到门槛学校数"}, Align: []docx.Align{L, R, R, R, R, R, R}}
	for _, r := range a.trend {
		t.Rows = append(t.Rows, []string{monthLabel(r.str("month")), fmt.Sprint(r.int("teachers")), r.rate("hours_completion"), r.rate("assessment_pass_rate"),
			r.rate("completion_rate"), fmt.Sprint(r.int("complete")), fmt.Sprint(r.int("schools_gate_met"))})
	}
	d.Table(t)
}
