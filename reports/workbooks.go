package reports

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"tisheng/internal/xlsxw"
	"tisheng/queries"
)

// Workbook is a downloadable report: its file name and how to write it.
type Workbook struct {
	FileName string
	Rows     int // the rows of its main table, for the audit trail
	write    func(w io.Writer) error
}

// Write streams the workbook to w.
func (wb *Workbook) Write(w io.Writer) error { return wb.write(w) }

func monthLabel(m string) string {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return m
	}
	return fmt.Sprintf("%d年%d月", t.Year(), t.Month())
}

// Monthly is the 月报 for leaders: overview, districts, every school, the schools below the
// gate, ability points (chart), the coverage matrix (color scale), the trend (chart) and
// data quality.
func (rp *Reports) Monthly(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "overview", "月报", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, fmt.Errorf("%w: 仓库里还没有数据", ErrNotFound)
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
	title := fmt.Sprintf("%s %s 提升工程2.0 月报", monthLabel(p.Month), scope)
	return &Workbook{
		FileName: fmt.Sprintf("%s_%s_月报.xlsx", monthLabel(p.Month), scope),
		Rows:     len(schools.Rows),
		write: func(w io.Writer) error {
			b, err := xlsxw.New()
			if err != nil {
				return err
			}
			if err := overviewSheet(b, title, pg, districts); err != nil {
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
			if _, err := queries.AddSheetWith(b, "能力点分布", title+" · 能力点选择与通过", points, func(t *xlsxw.Table) error {
				return barChart(t, "能力点选择与通过人数", 0, colIndex(points, "teachers_chose"), colIndex(points, "teachers_passed"))
			}); err != nil {
				return err
			}
			if err := matrixSheet(b, title, coverage); err != nil {
				return err
			}
			if _, err := queries.AddSheetWith(b, "月度趋势", title+" · 月度趋势", trend, func(t *xlsxw.Table) error {
				return lineChart(t, "逐月完成情况", 0, colIndex(trend, "hours_completion"), colIndex(trend, "assessment_pass_rate"), colIndex(trend, "completion_rate"))
			}); err != nil {
				return err
			}
			if _, err := queries.AddSheet(b, "数据质量", title+" · 已导入的文件", batches); err != nil {
				return err
			}
			return b.Write(w)
		},
	}, nil
}

// overviewSheet writes the headline figures as label/value rows, each value typed.
func overviewSheet(b *xlsxw.Book, title string, pg *Page, districts *queries.Result) error {
	t, err := b.AddTable("概览", title, []xlsxw.Col{{Header: "项目", Width: 28}, {Header: "数值", Kind: xlsxw.Number, Width: 18}})
	if err != nil {
		return err
	}
	var teachers, hoursMet, passed, complete, gate, schools, shortfall int64
	for _, row := range districts.Rows {
		get := func(k string) int64 { v, _ := row[colIndex(districts, k)].(int64); return v }
		teachers += get("teachers")
		hoursMet += get("hours_met")
		passed += get("assessment_passed")
		complete += get("complete")
		gate += get("schools_gate_met")
		schools += get("schools")
		shortfall += get("shortfall")
	}
	ratio := func(a int64) any {
		if teachers == 0 {
			return nil
		}
		return float64(a) / float64(teachers)
	}
	profile := ""
	if pg.Profile != nil {
		profile = fmt.Sprintf("%v（%v）", pg.Profile["label"], pg.Profile["name"])
	}
	scope := pg.Params.District
	if scope == "" {
		scope = "全部区县"
	}
	txt, in, pct := []xlsxw.Kind{xlsxw.Text, xlsxw.Text}, []xlsxw.Kind{xlsxw.Text, xlsxw.Int}, []xlsxw.Kind{xlsxw.Text, xlsxw.Percent}
	rows := []struct {
		k []xlsxw.Kind
		l string
		v any
	}{
		{txt, "报告月份", pg.Params.Month},
		{txt, "范围", scope},
		{txt, "规则方案", profile},
		{in, "教师数", teachers},
		{in, "学时达标人数", hoursMet},
		{pct, "学时达标率", ratio(hoursMet)},
		{in, "能力点测评合格人数", passed},
		{pct, "能力点测评合格率", ratio(passed)},
		{in, "完成培训人数", complete},
		{pct, "完成率", ratio(complete)},
		{in, "学校数", schools},
		{in, "达到95%门槛的学校数", gate},
		{in, "距门槛合计还差（人）", shortfall},
	}
	for _, r := range rows {
		if err := t.RowKinds(r.k, r.l, r.v); err != nil {
			return err
		}
	}
	return t.Close()
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
	cols := []xlsxw.Col{{Header: "维度 \\ 环境", Width: 14}}
	for _, e := range envs {
		cols = append(cols, xlsxw.Col{Header: e, Kind: xlsxw.Percent, Width: 16})
	}
	t, err := b.AddTable("覆盖矩阵", title+" · 通过至少一个能力点的教师占比（维度 × 环境）", cols)
	if err != nil {
		return err
	}
	for _, d := range dims {
		vals := []any{d}
		for _, e := range envs {
			vals = append(vals, cell[[2]string{d, e}])
		}
		if err := t.Row(vals...); err != nil {
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
		ss = append(ss, excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$%d", t.Name(), col, t.HeaderRow()),
			Categories: t.Ref(cat),
			Values:     t.Ref(v),
		})
	}
	return ss
}

// addChart puts a chart to the right of the table (cat and vals are column indexes).
func addChart(t *xlsxw.Table, typ excelize.ChartType, title string, cols int, cat int, vals ...int) error {
	if t.Rows() == 0 {
		return nil
	}
	anchor, _ := excelize.CoordinatesToCellName(cols+2, t.HeaderRow())
	t.AddChart(anchor, &excelize.Chart{
		Type:      typ,
		Series:    chartSeries(t, cat, vals),
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 360},
	})
	return nil
}

func barChart(t *xlsxw.Table, title string, cat int, vals ...int) error {
	return addChart(t, excelize.Col, title, t.Columns(), cat, vals...)
}

func lineChart(t *xlsxw.Table, title string, cat int, vals ...int) error {
	return addChart(t, excelize.Line, title, t.Columns(), cat, vals...)
}

// SchoolRoster is one school's teacher list (学校名单).
func (rp *Reports) SchoolRoster(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "school", "学校名单", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty || p.School == "" {
		return nil, fmt.Errorf("%w: 没有该学校的数据", ErrNotFound)
	}
	p = pg.Params
	school, err := rp.r.Named(ctx, "school", p, 0)
	if err != nil {
		return nil, err
	}
	if len(school.Rows) == 0 {
		return nil, fmt.Errorf("%w: 学校 %s 在 %s 没有数据", ErrNotFound, p.School, p.Month)
	}
	name := fmt.Sprint(school.Rows[0][colIndex(school, "school_name")])
	teachers, err := rp.r.Named(ctx, "school_teachers", p, 0)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("%s %s 教师名单", monthLabel(p.Month), name)
	return &Workbook{
		FileName: fmt.Sprintf("%s_%s_学校名单.xlsx", monthLabel(p.Month), name),
		Rows:     len(teachers.Rows),
		write: func(w io.Writer) error {
			b, err := xlsxw.New()
			if err != nil {
				return err
			}
			if _, err := queries.AddSheet(b, "学校名单", title, teachers); err != nil {
				return err
			}
			return b.Write(w)
		},
	}, nil
}

// Annual is the 年报 the project office files: headline figures, breakdowns by district,
// school, 学段, subject and age band, the points chosen, and the months of the year.
func (rp *Reports) Annual(ctx context.Context, p queries.Params) (*Workbook, error) {
	pg, err := rp.base(ctx, "overview", "年报", queries.Params{})
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, fmt.Errorf("%w: 仓库里还没有数据", ErrNotFound)
	}
	year := pg.Params.Month[:4]
	run := func(q string) (*queries.Result, error) {
		return rp.r.SQL(ctx, q)
	}
	summary, err := run(`SELECT * EXCLUDE (profile) FROM annual_summary`)
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
		byGroup[g.by] = res
	}
	choices, err := run(`SELECT by, coalesce(code, dimension, environment) AS item, ability_name, teachers_chose, teachers_passed, teachers_excellent, pass_rate
		FROM ability_choices WHERE scope = 'all' ORDER BY CASE by WHEN 'code' THEN 1 WHEN 'dimension' THEN 2 ELSE 3 END, item`)
	if err != nil {
		return nil, err
	}
	trend, err := rp.r.Named(ctx, "trend", queries.Params{}, 0)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("%s年度 提升工程2.0 实施情况", year)
	return &Workbook{
		FileName: fmt.Sprintf("%s年_提升工程2.0_年报.xlsx", year),
		write: func(w io.Writer) error {
			b, err := xlsxw.New()
			if err != nil {
				return err
			}
			if _, err := queries.AddSheet(b, "总体情况", title+"（数据截至 "+pg.Params.Month+"）", transpose(summary)); err != nil {
				return err
			}
			for _, g := range groups {
				res, g := byGroup[g.by], g
				var chart func(*xlsxw.Table) error
				if g.by != "school" {
					chart = func(t *xlsxw.Table) error {
						return barChart(t, "按"+g.label+"：参训率、完成率、合格率", 0, colIndex(res, "participation_rate"), colIndex(res, "completion_rate"), colIndex(res, "pass_rate"))
					}
				}
				if _, err := queries.AddSheetWith(b, "按"+g.label, title+" · 按"+g.label, res, chart); err != nil {
					return err
				}
			}
			if _, err := queries.AddSheet(b, "能力点选择", title+" · 能力点选择（按编号、维度、环境）", choices); err != nil {
				return err
			}
			if _, err := queries.AddSheetWith(b, "逐月进度", title+" · 逐月进度", trend, func(t *xlsxw.Table) error {
				return lineChart(t, "逐月完成情况", 0, colIndex(trend, "hours_completion"), colIndex(trend, "completion_rate"))
			}); err != nil {
				return err
			}
			return b.Write(w)
		},
	}, nil
}

// transpose turns a one-row result into label/value rows.
func transpose(res *queries.Result) *queries.Result {
	out := &queries.Result{Columns: []queries.Column{{Name: "item", Type: "VARCHAR", Label: "项目"}, {Name: "value", Type: "VARCHAR", Label: "数值"}}}
	if len(res.Rows) == 0 {
		return out
	}
	for i, c := range res.Columns {
		v := res.Rows[0][i]
		if f, ok := v.(float64); ok && queries.ColumnKind(c) == xlsxw.Percent {
			v = fmt.Sprintf("%.1f%%", f*100)
		} else if v != nil {
			v = formatCell(c, v)
		}
		out.Rows = append(out.Rows, []any{c.Label, v})
	}
	return out
}

// TableDownload is any named query of a page as a one-sheet workbook or CSV.
func (rp *Reports) TableDownload(ctx context.Context, query string, p queries.Params, csv bool) (*Workbook, error) {
	if _, ok := rp.r.Catalog()[query]; !ok {
		return nil, fmt.Errorf("%w: 表 %s", ErrNotFound, query)
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
	q := rp.r.Catalog()[query]
	title := strings.TrimSuffix(q.Title, "。")
	name := query
	if i := strings.IndexAny(title, ":："); i > 0 {
		name = title[:i]
	}
	parts := []string{monthLabel(p.Month)}
	if p.District != "" {
		parts = append(parts, p.District)
	}
	if p.School != "" {
		parts = append(parts, p.School)
	}
	if p.Batch != "" {
		parts = append(parts, "批次"+p.Batch)
	}
	parts = append(parts, name)
	base := strings.Join(parts, "_")
	if csv {
		return &Workbook{FileName: base + ".csv", Rows: len(res.Rows), write: func(w io.Writer) error { return queries.WriteCSV(w, res) }}, nil
	}
	return &Workbook{FileName: base + ".xlsx", Rows: len(res.Rows), write: func(w io.Writer) error { return queries.WriteXLSX(w, name, title, res) }}, nil
}

// NewWorkbook wraps a writer of the program's own as a download (the audit trail).
func NewWorkbook(fileName string, rows int, write func(w interface{ Write([]byte) (int, error) }) error) *Workbook {
	return &Workbook{FileName: fileName, Rows: rows, write: func(w io.Writer) error { return write(w) }}
}
