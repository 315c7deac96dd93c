package reports

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"tisheng/internal/apperr"

	"github.com/xuri/excelize/v2"

	"tisheng/internal/xlsxw"
	"tisheng/queries"
)

// Workbook is a downloadable report: its file name and how to write it.
type Workbook struct {
	FileName string
	// Unit is the 制表单位 printed in the title block and page footer; empty leaves a line
	// to fill in by hand. Date is the 制表日期 (default: the day it is written).
	Unit string
	Date time.Time
	// Stale counts the schools whose figures for the month come from an earlier month's
	// file (see sources); 0 for table downloads.
	Stale int
	Rows  int // the rows of its main table, for the audit trail
	write func(w io.Writer) error
}

// Write streams the workbook to w.
func (wb *Workbook) Write(w io.Writer) error { return wb.write(w) }

func (wb *Workbook) date() string {
	d := wb.Date
	if d.IsZero() {
		d = time.Now()
	}
	return d.Format("2006-01-02")
}

func (wb *Workbook) unit() string {
	if wb.Unit == "" {
		return "＿＿＿＿＿＿＿＿＿＿（盖章）"
	}
	return wb.Unit
}

func monthLabel(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return fmt.Sprintf("%d年%d月", t.Year(), t.Month())
}

// programme is the report family's name as the title of a printed report.
const programme = "中小学教师信息技术应用能力提升工程2.0"

// signLines is the 审核/签字 block of a report a leader signs.
func signLines(signer, seal string) []string {
	return []string{
		"填表人：＿＿＿＿＿＿＿＿　　　审核人：＿＿＿＿＿＿＿＿　　　" + signer + "（签字）：＿＿＿＿＿＿＿＿",
		seal + "（盖章）　　　　　　　　　　　　　　　　　　日期：＿＿＿＿年＿＿月＿＿日",
	}
}

// sources is where the month's figures come from: per export kind, the newest as-of date
// counted, and the schools whose counted file is from an earlier month (stale).
type sources struct {
	kinds      []string             // in report order
	latest     map[string]string    // kind -> newest as_of
	staleBy    map[string][]string  // kind -> as_of dates of stale files (one per stale school)
	school     map[string][]string  // school_code -> "学时 2025-05-31" for each stale kind
	district   map[string]int       // district -> stale schools
	districtAt map[string][]string  // district -> kinds stale there
	names      map[string]string    // school_code -> school_name
	staleCodes map[string]struct{}  // stale schools
	perSchool  map[string][2]string // school_code+kind -> label, as_of (for a school's block)
}

func (rp *Reports) sources(ctx context.Context, p queries.Params) (*sources, error) {
	// the month's dates for every school, read once until the next refresh (the school and
	// district pages ask for them on every view), then cut to the district or school asked
	all, err := rp.cached(ctx, "source_dates", queries.Params{Month: p.Month})
	if err != nil {
		return nil, fmt.Errorf("source_dates: %w", err)
	}
	res := &queries.Result{Columns: all.Columns}
	for _, row := range all.Rows {
		if (p.District == "" || row[colIndex(all, "district")] == p.District) && (p.School == "" || row[colIndex(all, "school_code")] == p.School) {
			res.Rows = append(res.Rows, row)
		}
	}
	s := &sources{latest: map[string]string{}, staleBy: map[string][]string{}, school: map[string][]string{},
		district: map[string]int{}, districtAt: map[string][]string{}, names: map[string]string{},
		staleCodes: map[string]struct{}{}, perSchool: map[string][2]string{}}
	ci := func(n string) int { return colIndex(res, n) }
	dI, cI, nI, kI, shI, aI, stI := ci("district"), ci("school_code"), ci("school_name"), ci("kind"), ci("shape"), ci("as_of"), ci("stale")
	for _, row := range res.Rows {
		kind, _ := row[kI].(string)
		code, _ := row[cI].(string)
		district, _ := row[dI].(string)
		asOf, _ := row[aI].(string)
		shape, _ := row[shI].(string)
		if asOf > s.latest[kind] {
			s.latest[kind] = asOf
		}
		s.names[code], _ = row[nI].(string)
		s.perSchool[code+"\x00"+kind] = [2]string{queries.KindLabel(kind, shape), asOf}
		if row[stI] == true {
			s.staleBy[kind] = append(s.staleBy[kind], asOf)
			s.school[code] = append(s.school[code], queries.KindLabel(kind, shape)+" "+asOf)
			if _, seen := s.staleCodes[code]; !seen {
				s.district[district]++
			}
			s.staleCodes[code] = struct{}{}
			if !contains(s.districtAt[district], queries.KindLabel(kind)) {
				s.districtAt[district] = append(s.districtAt[district], queries.KindLabel(kind))
			}
		}
	}
	for _, k := range queries.KindOrder() {
		if _, ok := s.latest[k]; ok {
			s.kinds = append(s.kinds, k)
		}
	}
	return s, nil
}

// fields are the 数据截止日期 lines of a title block, one per export kind.
func (s *sources) fields() []xlsxw.Field {
	var out []xlsxw.Field
	for _, k := range s.kinds {
		v := s.latest[k]
		if st := s.staleBy[k]; len(st) > 0 {
			dates := uniq(st)
			v += fmt.Sprintf("（数据滞后：%d 所学校本月仍用 %s 的文件）", len(st), strings.Join(dates, "、"))
		}
		out = append(out, xlsxw.Field{Label: "数据截止日期（" + queries.KindLabel(k) + "）", Value: v})
	}
	return out
}

// note is the sentence a report carries when some figures are stale.
func (s *sources) note(month string) string {
	if len(s.staleCodes) == 0 {
		return ""
	}
	var ds []string
	for d := range s.district {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%s %d 所（%s）", d, s.district[d], strings.Join(s.districtAt[d], "、")))
	}
	return fmt.Sprintf("注意：%d 所学校%s的数据来自更早月份的导出文件，数字可能偏低：%s。详见「学校进度」表的「数据滞后」列。",
		len(s.staleCodes), monthLabel(month), strings.Join(parts, "；"))
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// addColumn appends a text column computed per row.
func addColumn(res *queries.Result, name, label string, f func(row []any) any) {
	res.Columns = append(res.Columns, queries.Column{Name: name, Type: "VARCHAR", Label: label})
	for i, row := range res.Rows {
		res.Rows[i] = append(row, f(row))
	}
}

// Monthly is the 月报 for leaders: a cover (title block, headline figures, notes, sign
// block), districts, every school, the schools below the gate, ability points (chart), the
// coverage matrix (color scale), the trend (chart) and data quality.
func (rp *Reports) Monthly(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "overview", "月报", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, apperr.Errorf(apperr.NotFound, "仓库里还没有数据")
	}
	p = pg.Params
	scope := p.District
	if scope == "" {
		scope = "全部区县"
	}
	get := func(name string) (*queries.Result, error) { return rp.r.Named(ctx, name, p, 0) }
	districts, err := get("overview_districts")
	if err != nil {
		return nil, err
	}
	schools, err := get("schools")
	if err != nil {
		return nil, err
	}
	points, err := get("ability_points")
	if err != nil {
		return nil, err
	}
	coverage, err := get("coverage_matrix")
	if err != nil {
		return nil, err
	}
	trend, err := get("trend")
	if err != nil {
		return nil, err
	}
	batches, err := get("batches")
	if err != nil {
		return nil, err
	}
	src, err := rp.sources(ctx, p)
	if err != nil {
		return nil, err
	}
	queries.LabelCodes(batches)
	queries.SortNatural(points, colIndex(points, "code"))
	code := colIndex(schools, "school_code")
	addColumn(schools, "stale_sources", "数据滞后（来自更早月份的文件）", func(row []any) any {
		if s := src.school[fmt.Sprint(row[code])]; len(s) > 0 {
			return strings.Join(s, "；")
		}
		return nil
	})
	dist := colIndex(districts, "district")
	addColumn(districts, "stale_schools", "数据滞后学校数", func(row []any) any { return int64(src.district[fmt.Sprint(row[dist])]) })
	districts.Columns[len(districts.Columns)-1].Type = "BIGINT"

	report := "提升工程2.0 月报"
	title := fmt.Sprintf("%s %s %s", monthLabel(p.Month), scope, report)
	wb := &Workbook{FileName: fmt.Sprintf("%s_%s_月报.xlsx", monthLabel(p.Month), scope), Stale: len(src.staleCodes), Rows: len(schools.Rows)}
	wb.write = func(w io.Writer) error {
		b, err := xlsxw.New()
		if err != nil {
			return err
		}
		b.SetPrint(xlsxw.Print{Report: title, Scope: scope + " · " + monthLabel(p.Month), Unit: wb.Unit, Date: wb.date()})
		if err := b.AddCover(monthlyCover(wb, pg, scope, districts, src)); err != nil {
			return err
		}
		if _, err := queries.AddSheet(b, "区县汇总", title+" · 区县汇总", districts); err != nil {
			return err
		}
		if _, err := queries.AddSheet(b, "学校进度", title+" · 学校进度（未达门槛的学校在前）", schools, colIndex(schools, "pass_rate")); err != nil {
			return err
		}
		if _, err := queries.AddSheet(b, "95%门槛", title+" · 未达到95%门槛的学校及差额", belowGate(schools)); err != nil {
			return err
		}
		t, err := queries.AddSheet(b, "能力点分布", title+" · 能力点选择与通过", points)
		if err != nil {
			return err
		}
		if err := chartSheet(b, t, "能力点分布图", title+" · 能力点选择与通过人数", "能力点选择与通过人数", excelize.Col, false, 0, colIndex(points, "teachers_chose"), colIndex(points, "teachers_passed")); err != nil {
			return err
		}
		if err := matrixSheet(b, title, coverage); err != nil {
			return err
		}
		if t, err = queries.AddSheet(b, "月度趋势", title+" · 月度趋势", trend); err != nil {
			return err
		}
		if err := chartSheet(b, t, "月度趋势图", title+" · 逐月学时达标率、测评合格率与完成率", "逐月学时达标率、测评合格率与完成率", excelize.Line, true, 0, colIndex(trend, "hours_completion"), colIndex(trend, "assessment_pass_rate"), colIndex(trend, "completion_rate")); err != nil {
			return err
		}
		if _, err := queries.AddSheet(b, "数据质量", title+" · 已导入的文件", batches); err != nil {
			return err
		}
		return b.Write(w)
	}
	return wb, nil
}

// monthlyCover is the 月报's first page: the title block, the headline figures (typed),
// the stale-data note, the sheets inside and the sign block.
func monthlyCover(wb *Workbook, pg *Page, scope string, districts *queries.Result, src *sources) xlsxw.Cover {
	var teachers, hoursMet, passed, complete, gate, schools, withFullTime, shortfall int64
	for _, row := range districts.Rows {
		get := func(k string) int64 { v, _ := row[colIndex(districts, k)].(int64); return v }
		teachers += get("teachers")
		hoursMet += get("hours_met")
		passed += get("assessment_passed")
		complete += get("complete")
		gate += get("schools_gate_met")
		schools += get("schools")
		withFullTime += get("schools_with_full_time")
		shortfall += get("shortfall")
	}
	ratio := func(a int64) any {
		if teachers == 0 {
			return nil
		}
		return queries.RoundRate(float64(a) / float64(teachers))
	}
	profile := ""
	if pg.Profile != nil {
		profile = fmt.Sprintf("%v（%v）", pg.Profile["label"], pg.Profile["name"])
	}
	block := []xlsxw.Field{
		{Label: "报表名称", Value: programme + " 月报"},
		{Label: "区县", Value: scope},
		{Label: "统计月份", Value: monthLabel(pg.Params.Month)},
	}
	block = append(block, src.fields()...)
	block = append(block,
		xlsxw.Field{Label: "规则方案", Value: profile},
		xlsxw.Field{Label: "制表单位", Value: wb.unit()},
		xlsxw.Field{Label: "制表日期", Value: wb.date()},
	)
	figures := []xlsxw.Field{
		{Label: "教师数", Value: teachers, Kind: xlsxw.Int},
		{Label: "学时达标人数", Value: hoursMet, Kind: xlsxw.Int},
		{Label: "学时达标率", Value: ratio(hoursMet), Kind: xlsxw.Percent},
		{Label: "能力点测评合格人数", Value: passed, Kind: xlsxw.Int},
		{Label: "能力点测评合格率", Value: ratio(passed), Kind: xlsxw.Percent},
		{Label: "完成培训人数", Value: complete, Kind: xlsxw.Int},
		{Label: "完成率", Value: ratio(complete), Kind: xlsxw.Percent},
		{Label: "学校数", Value: schools, Kind: xlsxw.Int},
		{Label: "达到95%门槛的学校数", Value: gate, Kind: xlsxw.Int},
		{Label: "未达门槛的学校数", Value: withFullTime - gate, Kind: xlsxw.Int}, // a school with no 专任教师 has no gate
		{Label: "距门槛合计还差（人）", Value: shortfall, Kind: xlsxw.Int},
	}
	contents := []xlsxw.Field{
		{Label: "区县汇总", Value: "各区县的教师数、学时达标、测评合格、完成率与达到门槛的学校"},
		{Label: "学校进度", Value: "每所学校的门槛状态与差额，未达门槛的在前"},
		{Label: "95%门槛", Value: "未达到95%门槛的学校及还差的人数"},
		{Label: "能力点分布", Value: "各能力点的选择与通过人数"},
		{Label: "能力点分布图", Value: "能力点选择与通过人数柱状图"},
		{Label: "覆盖矩阵", Value: "维度 × 环境：通过至少一个能力点的教师占比"},
		{Label: "月度趋势", Value: "逐月的学时达标率、测评合格率与完成率"},
		{Label: "月度趋势图", Value: "逐月学时达标率、测评合格率与完成率折线图"},
		{Label: "数据质量", Value: "已导入的文件、截止日期与拒收行数"},
	}
	var notes []string
	if n := src.note(pg.Params.Month); n != "" {
		notes = append(notes, n)
	}
	return xlsxw.Cover{
		Sheet:    "封面",
		Title:    programme + "\n月报",
		Subtitle: monthLabel(pg.Params.Month) + " · " + scope,
		Sections: []xlsxw.Section{{Heading: "报表信息", Fields: block}, {Heading: "主要指标", Fields: figures}, {Heading: "目录", Fields: contents}},
		Notes:    notes,
		Sign:     signLines("负责人", "单位"),
	}
}

// belowGate keeps the schools whose gate is not met.
func belowGate(res *queries.Result) *queries.Result {
	out := &queries.Result{Columns: res.Columns}
	g := colIndex(res, "gate_met")
	for _, row := range res.Rows {
		if row[g] == false {
			out.Rows = append(out.Rows, row)
		}
	}
	return out
}

// matrixSheet pivots the coverage into dimensions × environments with a color scale.
func matrixSheet(b *xlsxw.Book, title string, cov *queries.Result) error {
	dimI, envI, shareI := colIndex(cov, "dimension"), colIndex(cov, "environment"), colIndex(cov, "teacher_share")
	var dims, envs []string
	cell := map[[2]string]any{}
	for _, row := range cov.Rows {
		d, e := fmt.Sprint(row[dimI]), fmt.Sprint(row[envI])
		if !contains(dims, d) {
			dims = append(dims, d)
		}
		if !contains(envs, e) {
			envs = append(envs, e)
		}
		cell[[2]string{d, e}] = row[shareI]
	}
	cols := []xlsxw.Col{{Header: "维度 \\ 环境", Width: 16}}
	for _, e := range envs {
		cols = append(cols, xlsxw.Col{Header: e, Kind: xlsxw.Percent, Width: 18})
	}
	t, err := b.AddTable("覆盖矩阵", title+" · 通过至少一个能力点的教师占比（维度 × 环境）", cols)
	if err != nil {
		return err
	}
	none := false
	for _, d := range dims {
		vals := []any{d}
		for _, e := range envs {
			v, ok := cell[[2]string{d, e}]
			if !ok {
				v, none = "目录中无", true
			}
			vals = append(vals, v)
		}
		if err := t.Row(vals...); err != nil {
			return err
		}
	}
	if none {
		if err := t.Footnotes("“目录中无”：能力点目录里没有这个维度与环境组合的能力点，不是没有教师通过。"); err != nil {
			return err
		}
	}
	var scale []int
	for i := range envs {
		scale = append(scale, i+1)
	}
	return t.Close(scale...)
}

func chartSeries(t *xlsxw.Table, cat int, vals []int) []excelize.ChartSeries {
	var ss []excelize.ChartSeries
	for _, v := range vals {
		if v < 0 {
			continue
		}
		col, _ := excelize.ColumnNumberToName(v + 1)
		s := excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$%d", t.Name(), col, t.HeaderRow()),
			Categories: t.Ref(cat),
			Values:     t.Ref(v),
		}
		ss = append(ss, s)
	}
	return ss
}

// chartSheet adds, after table t, a sheet with a chart of it (cat and vals are column
// indexes). Rates get a 0–100% value axis; counts an integer axis from 0. Axis text is
// black, for print; every category label is shown.
func chartSheet(b *xlsxw.Book, t *xlsxw.Table, name, heading, title string, typ excelize.ChartType, percent bool, cat int, vals ...int) error {
	if t.Rows() == 0 {
		return nil
	}
	dark := excelize.Font{Color: "000000", Size: 10}
	y := excelize.ChartAxis{MajorGridLines: true, Font: dark, NumFmt: excelize.ChartNumFmt{CustomNumFmt: "#,##0"}}
	zero := 0.0
	y.Minimum = &zero
	if percent {
		one := 1.0
		y.Maximum = &one
		y.MajorUnit = 0.2
		y.NumFmt = excelize.ChartNumFmt{CustomNumFmt: "0%"}
	}
	legend := dark
	return b.AddChartSheet(name, heading, &excelize.Chart{
		Type:   typ,
		Series: chartSeries(t, cat, vals),
		Title:  excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title, Font: &excelize.Font{Bold: true, Size: 12, Color: "000000"}}}},
		Legend: excelize.ChartLegend{Position: "bottom", Font: &legend},
		XAxis:  excelize.ChartAxis{Font: dark, TickLabelSkip: 1},
		YAxis:  y,
	})
}

// SchoolRoster is one school's teacher list (学校名单): the school's standing at the gate
// and its shortfall at the top, where its data comes from, the teachers, and a block for
// the principal's signature.
func (rp *Reports) SchoolRoster(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "school", "学校名单", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty || p.School == "" {
		return nil, apperr.Errorf(apperr.NotFound, "没有该学校的数据")
	}
	p = pg.Params
	school, err := rp.r.Named(ctx, "school", p, 0)
	if err != nil {
		return nil, err
	}
	if len(school.Rows) == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "学校 %s 在 %s 没有数据", p.School, p.Month)
	}
	row := school.Rows[0]
	val := func(k string) any { return row[colIndex(school, k)] }
	name := fmt.Sprint(val("school_name"))
	teachers, err := rp.r.Named(ctx, "school_teachers", p, 0)
	if err != nil {
		return nil, err
	}
	queries.SortCodeLists(teachers)
	src, err := rp.sources(ctx, queries.Params{Month: p.Month, School: p.School})
	if err != nil {
		return nil, err
	}
	district := fmt.Sprint(val("district"))
	title := fmt.Sprintf("%s %s 教师名单", monthLabel(p.Month), name)
	wb := &Workbook{FileName: fmt.Sprintf("%s_%s_%s_学校名单.xlsx", monthLabel(p.Month), district, name), Stale: len(src.staleCodes), Rows: len(teachers.Rows)}
	wb.write = func(w io.Writer) error {
		b, err := xlsxw.New()
		if err != nil {
			return err
		}
		b.SetPrint(xlsxw.Print{Report: title, Scope: district + " · " + monthLabel(p.Month), Unit: wb.Unit, Date: wb.date()})
		gate, behind := gateLine(school)
		sources, stale := sourceLine(src, p.School)
		block := []xlsxw.Line{
			{Text: gate, Strong: true, Warn: behind},
			{Text: progressLine(school)},
			{Text: sources, Warn: stale},
			{Text: fmt.Sprintf("区县：%s　　学校代码：%s　　统计月份：%s　　规则方案：%v　　制表单位：%s　　制表日期：%s",
				district, p.School, monthLabel(p.Month), profileName(pg), wb.unit(), wb.date())},
		}
		if _, err := queries.AddSheetBlock(b, "学校名单", title, block, teachers, func(t *xlsxw.Table) error {
			return t.Notes(signLines("校长", "学校")...)
		}); err != nil {
			return err
		}
		return b.Write(w)
	}
	return wb, nil
}

func profileName(pg *Page) string {
	if pg.Profile == nil {
		return "—"
	}
	return fmt.Sprintf("%v", pg.Profile["label"])
}

// gateLine is the school's standing at the 95% gate, the first thing a principal reads.
func gateLine(school *queries.Result) (string, bool) {
	row := school.Rows[0]
	val := func(k string) any { return row[colIndex(school, k)] }
	ft, _ := val("full_time_teachers").(int64)
	passed, _ := val("passed_full_time").(int64)
	short, _ := val("shortfall").(int64)
	gp := "95"
	if d, ok := val("gate_percent").(queries.Dec); ok {
		gp = trimDec(d.Text)
	}
	rate := "—"
	if f, ok := val("pass_rate").(float64); ok {
		rate = queries.FormatRate(f)
	}
	switch val("gate_met") {
	case true:
		return fmt.Sprintf("%s%%门槛：已达标（专任教师 %d 人，合格 %d 人，合格率 %s）", gp, ft, passed, rate), false
	case false:
		return fmt.Sprintf("%s%%门槛：未达标，还差 %d 人（专任教师 %d 人，合格 %d 人，合格率 %s）", gp, short, ft, passed, rate), true
	}
	return fmt.Sprintf("%s%%门槛：本校没有专任教师，不计门槛", gp), false
}

func progressLine(school *queries.Result) string {
	row := school.Rows[0]
	val := func(k string) any { return row[colIndex(school, k)] }
	n, _ := val("teachers").(int64)
	met, _ := val("hours_met").(int64)
	done, _ := val("complete").(int64)
	rate := "—"
	if f, ok := val("hours_completion").(float64); ok {
		rate = queries.FormatRate(f)
	}
	return fmt.Sprintf("教师 %d 人：学时达标 %d 人（%s），完成培训 %d 人，未完成 %d 人（名单中未完成的排在前面）", n, met, rate, done, n-done)
}

// sourceLine names the as-of date of each file the school's month comes from, saying
// which are stale.
func sourceLine(src *sources, school string) (string, bool) {
	var parts []string
	stale := false
	for _, k := range src.kinds {
		ls, ok := src.perSchool[school+"\x00"+k]
		if !ok {
			continue
		}
		part := ls[0] + " " + ls[1]
		for _, s := range src.school[school] {
			if strings.HasPrefix(s, ls[0]+" ") {
				part += "（数据滞后）"
				stale = true
			}
		}
		parts = append(parts, part)
	}
	line := "数据截止日期：" + strings.Join(parts, "；")
	if len(parts) == 0 {
		line = "数据截止日期：—"
	}
	if stale {
		line += "。注意：标“数据滞后”的数据来自更早月份的导出文件，请上传本月的文件后再核对。"
	}
	return line, stale
}

// Annual is the 年报 the project office files: a cover, headline figures, breakdowns by
// district, school, 学段, subject and age band, the points chosen, and the months of the
// year.
func (rp *Reports) Annual(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "overview", "年报", queries.Params{})
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, apperr.Errorf(apperr.NotFound, "仓库里还没有数据")
	}
	year := pg.Params.Month[:4]
	// A district's 年报 is written from that district's own database (internal/scoped),
	// where every table, aggregates included, holds the district's rows only.
	scope := "全部区县"
	if p.District != "" {
		scope = p.District
	}
	run := func(q string) (*queries.Result, error) {
		return rp.r.SQL(ctx, q)
	}
	summary, err := run(`SELECT * EXCLUDE (profile, month) FROM annual_summary`)
	if err != nil {
		return nil, err
	}
	groups := []struct{ by, label string }{{"district", "区县"}, {"school", "学校"}, {"stage", "学段"}, {"subject", "学科"}, {"age_band", "年龄段"}}
	byGroup := map[string]*queries.Result{}
	for _, g := range groups {
		res, err := rp.r.SQL(ctx, `SELECT group_value AS `+g.by+`, * EXCLUDE (group_by, group_value) FROM annual_by_group WHERE group_by = ? ORDER BY 1`, g.by)
		if err != nil {
			return nil, err
		}
		res.Columns[0].Label = g.label
		byGroup[g.by] = res
	}
	choices, err := run(`SELECT "by", coalesce(code, dimension, environment) AS item, ability_name, teachers_chose, teachers_passed, teachers_excellent, pass_rate
		FROM ability_choices WHERE scope = 'all' ORDER BY CASE "by" WHEN 'code' THEN 1 WHEN 'dimension' THEN 2 ELSE 3 END, item`)
	if err != nil {
		return nil, err
	}
	// The categories keep the query's order (point, dimension, environment); within one,
	// codes sort naturally (A2 before A11).
	rank := map[any]int{}
	for _, r := range choices.Rows {
		if _, ok := rank[r[0]]; !ok {
			rank[r[0]] = len(rank)
		}
	}
	sort.SliceStable(choices.Rows, func(i, j int) bool {
		a, b := choices.Rows[i], choices.Rows[j]
		if rank[a[0]] != rank[b[0]] {
			return rank[a[0]] < rank[b[0]]
		}
		return queries.NaturalLess(fmt.Sprint(a[1]), fmt.Sprint(b[1]))
	})
	queries.LabelCodes(choices)
	choices.Columns[0].Label, choices.Columns[1].Label = "类别", "能力点 / 维度 / 环境"
	trend, err := rp.r.Named(ctx, "trend", queries.Params{}, 0)
	if err != nil {
		return nil, err
	}
	src, err := rp.sources(ctx, queries.Params{Month: pg.Params.Month})
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("%s年度 提升工程2.0 实施情况", year)
	wb := &Workbook{FileName: fmt.Sprintf("%s年_%s_提升工程2.0_年报.xlsx", year, scope), Stale: len(src.staleCodes)}
	wb.write = func(w io.Writer) error {
		b, err := xlsxw.New()
		if err != nil {
			return err
		}
		b.SetPrint(xlsxw.Print{Report: title, Scope: scope + " · 截至" + monthLabel(pg.Params.Month), Unit: wb.Unit, Date: wb.date()})
		if err := b.AddCover(annualCover(wb, pg, year, scope, summary, src)); err != nil {
			return err
		}
		if err := summarySheet(b, title+"（数据截至 "+monthLabel(pg.Params.Month)+"）", summary); err != nil {
			return err
		}
		for _, g := range groups {
			res := byGroup[g.by]
			t, err := queries.AddSheet(b, "按"+g.label, title+" · 按"+g.label, res)
			if err != nil {
				return err
			}
			if g.by == "school" { // one bar per school is unreadable; the table says it
				continue
			}
			if err := chartSheet(b, t, "按"+g.label+"图", title+" · 按"+g.label+"：参训率、完成率、合格率", "按"+g.label+"：参训率、完成率、合格率", excelize.Col, true, 0, colIndex(res, "participation_rate"), colIndex(res, "completion_rate"), colIndex(res, "pass_rate")); err != nil {
				return err
			}
		}
		if _, err := queries.AddSheet(b, "能力点选择", title+" · 能力点选择（按能力点、维度、环境）", choices); err != nil {
			return err
		}
		t, err := queries.AddSheet(b, "逐月进度", title+" · 逐月进度", trend)
		if err != nil {
			return err
		}
		if err := chartSheet(b, t, "逐月进度图", title+" · 逐月学时达标率与完成率", "逐月学时达标率与完成率", excelize.Line, true, 0, colIndex(trend, "hours_completion"), colIndex(trend, "completion_rate")); err != nil {
			return err
		}
		return b.Write(w)
	}
	return wb, nil
}

// summaryFields turns the one-row annual summary into typed label/value fields.
func summaryFields(res *queries.Result) []xlsxw.Field {
	var out []xlsxw.Field
	if len(res.Rows) == 0 {
		return out
	}
	for i, c := range res.Columns {
		v := res.Rows[0][i]
		k := queries.ColumnKind(c)
		if d, ok := v.(queries.Dec); ok {
			v = d.Float
		}
		out = append(out, xlsxw.Field{Label: c.Label, Value: v, Kind: k})
	}
	return out
}

func annualCover(wb *Workbook, pg *Page, year, scope string, summary *queries.Result, src *sources) xlsxw.Cover {
	block := []xlsxw.Field{
		{Label: "报表名称", Value: programme + " 年报"},
		{Label: "区县", Value: scope},
		{Label: "统计年度", Value: year + "年"},
		{Label: "统计月份", Value: "截至" + monthLabel(pg.Params.Month)},
	}
	block = append(block, src.fields()...)
	block = append(block,
		xlsxw.Field{Label: "规则方案", Value: profileName(pg)},
		xlsxw.Field{Label: "制表单位", Value: wb.unit()},
		xlsxw.Field{Label: "制表日期", Value: wb.date()},
	)
	keep := map[string]bool{"teachers": true, "participated": true, "participation_rate": true, "complete": true,
		"completion_rate": true, "assessment_passed": true, "pass_rate": true, "schools": true, "schools_gate_met": true}
	var figures []xlsxw.Field
	for i, f := range summaryFields(summary) {
		if keep[summary.Columns[i].Name] {
			figures = append(figures, f)
		}
	}
	var notes []string
	if n := src.note(pg.Params.Month); n != "" {
		notes = append(notes, strings.Replace(n, "详见「学校进度」表的「数据滞后」列", "详见当月月报", 1))
	}
	return xlsxw.Cover{
		Sheet:    "封面",
		Title:    programme + "\n年报",
		Subtitle: year + "年度 · " + scope,
		Sections: []xlsxw.Section{{Heading: "报表信息", Fields: block}, {Heading: "主要指标", Fields: figures}, {Heading: "目录", Fields: []xlsxw.Field{
			{Label: "总体情况", Value: "全部教师的参训、完成、合格与优秀，人均学时，达到门槛的学校"},
			{Label: "按区县 … 按年龄段", Value: "按区县、学校、学段、学科、年龄段分组的同一组指标（除按学校外均附柱状图）"},
			{Label: "能力点选择", Value: "各能力点、维度、环境的选择、通过与优秀人数"},
			{Label: "逐月进度", Value: "逐月的学时达标率与完成率（附折线图）"},
		}}},
		Notes: notes,
		Sign:  signLines("负责人", "单位"),
	}
}

// summarySheet writes the headline figures as label/value rows, each value typed.
func summarySheet(b *xlsxw.Book, title string, summary *queries.Result) error {
	t, err := b.AddTable("总体情况", title, []xlsxw.Col{{Header: "项目", Width: 30}, {Header: "数值", Kind: xlsxw.Number, Width: 18}})
	if err != nil {
		return err
	}
	for _, f := range summaryFields(summary) {
		if err := t.RowKinds([]xlsxw.Kind{xlsxw.Text, f.Kind}, f.Label, f.Value); err != nil {
			return err
		}
	}
	return t.Close()
}

// TableDownload is any named query of a page as a one-sheet workbook or CSV, named by its
// Chinese title, month and scope (2025年6月_东湖区_学校进度.xlsx).
func (rp *Reports) TableDownload(ctx context.Context, query string, p queries.Params, csv bool) (*Workbook, error) {
	if _, ok := rp.r.Catalog()[query]; !ok {
		return nil, apperr.Errorf(apperr.NotFound, "表 %s", query)
	}
	if p.Month == "" {
		if m, err := rp.r.Named(ctx, "months", p, 1); err == nil && len(m.Rows) > 0 {
			p.Month = m.Rows[0][0].(string)
		}
	}
	res, err := rp.r.Named(ctx, query, p, 0)
	if err != nil {
		return nil, err
	}
	queries.SortCodeLists(queries.LabelCodes(res))
	name := queries.QueryTitle(query)
	parts := []string{monthLabel(p.Month)}
	if p.District != "" {
		parts = append(parts, p.District)
	} else {
		parts = append(parts, "全部区县")
	}
	if p.School != "" {
		parts = append(parts, "学校"+p.School)
	}
	if p.Batch != "" {
		parts = append(parts, "批次"+p.Batch)
	}
	title := strings.Join(append(append([]string{}, parts...), name), " ")
	base := strings.Join(append(parts, name), "_")
	if csv {
		return &Workbook{FileName: base + ".csv", Rows: len(res.Rows), write: func(w io.Writer) error { return queries.WriteCSV(w, res) }}, nil
	}
	return &Workbook{FileName: base + ".xlsx", Rows: len(res.Rows), write: func(w io.Writer) error { return queries.WriteXLSX(w, name, title, res) }}, nil
}

// NewWorkbook wraps a writer of the program's own as a download (the audit trail).
func NewWorkbook(fileName string, rows int, write func(w interface{ Write([]byte) (int, error) }) error) *Workbook {
	return &Workbook{FileName: fileName, Rows: rows, write: func(w io.Writer) error { return write(w) }}
}
