package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"tisheng/internal/apperr"
	"tisheng/queries"
)

func (rp *Reports) school(ctx context.Context, p queries.Params) (*Page, error) {
	if p.School == "" {
		return nil, apperr.Errorf(apperr.Invalid, "参数错误：缺少学校代码")
	}
	pg, err := rp.base(ctx, "school", "学校详情", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "school", "本校概况")
	if err != nil {
		return nil, err
	}
	t.List = true
	if len(t.Result.Rows) == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "学校 %s 在 %s 没有数据", p.School, pg.Params.Month)
	}
	row := t.Result.Rows[0]
	pg.Title = fmt.Sprint(row[colIndex(t.Result, "school_name")]) + " · 学校详情"
	pg.Gate = gateView(t.Result, row)
	if src, err := rp.sources(ctx, pg.Params); err != nil {
		return nil, err
	} else if line, stale := sourceLine(src, p.School); stale {
		pg.Notice = "注意：本校本月部分数据来自更早月份的导出文件（" + line + "），数字可能偏低。"
	}

	// Both teacher tables come from one scan of the school's teachers (school_page_teachers):
	// each is the named query of its download (school_todo, school_teachers) in content.
	all, err := rp.r.Named(ctx, "school_page_teachers", pg.Params, 0)
	if err != nil {
		return nil, fmt.Errorf("school_page_teachers: %w", err)
	}
	teachers := project(all, schoolTeachersCols, func([]any) bool { return true })
	done := colIndex(all, "complete")
	todoRes := project(all, schoolTodoCols, func(row []any) bool { return row[done] != true })
	sortTodo(todoRes)

	// Who to chase first, each with what is missing.
	todo := rp.tableOf(pg, "school_todo", "需要跟进的教师（专任教师在前，差得多的在前）", todoRes)
	pg.Gate.Behind = len(todo.Result.Rows)
	todo.Hidden = map[int]bool{}
	for _, c := range []string{"hours_short", "practice_short", "abilities_short", "dimensions_short", "plan_missing"} {
		todo.Hidden[colIndex(todo.Result, c)] = true
	}
	if full := colIndex(todo.Result, "is_full_time"); full >= 0 {
		todo.RowClasses = rowClasses(todo.Result, func(row []any) bool { return row[full] == true }, "behind", "")
	}
	todo.Empty = "全部教师已完成培训，没有需要跟进的教师。"

	tt := rp.tableOf(pg, "school_teachers", "全部教师（研修考核视图）", teachers)
	tdone := colIndex(tt.Result, "complete")
	tt.RowClasses = rowClasses(tt.Result, func(row []any) bool { return row[tdone] == true }, "met", "behind")
	tt.Empty = "本月花名册上没有本校教师。"

	cov, err := rp.r.Named(ctx, "coverage_matrix", pg.Params, 0)
	if err != nil {
		return nil, err
	}
	if len(cov.Rows) > 0 {
		pg.Charts = append(pg.Charts, Chart{ID: "coverage", Title: coverageTitle("本校维度 × 环境覆盖（通过至少一个能力点的教师占比）"+latestOnly(pg), cov), Option: heatmapOption(cov)})
	}

	sw, err := rp.table(ctx, pg, "school_swot", "SWOT 诊断数据（与区县平均对比）"+latestOnly(pg))
	if err != nil {
		return nil, err
	}
	sw.Hidden = map[int]bool{colIndex(sw.Result, "unit"): true, colIndex(sw.Result, "higher_is_better"): true}
	sw.Cell = swotCell(sw.Result)
	sw.Empty = "没有本校的 SWOT 数据（学校信息或花名册尚未导入）。"
	gaps, err := rp.table(ctx, pg, "school_gaps", "无人覆盖的维度与环境"+latestOnly(pg))
	if err != nil {
		return nil, err
	}
	gaps.Empty = "每个维度和环境都至少有一位教师通过了能力点。"
	pg.Extra = map[string]string{"roster": "/download/roster.xlsx?" + pg.Params.Query()}
	// the gate's follow-up first, the school's facts after the heatmap
	pg.Tables = append([]*Table{todo}, append([]*Table{t}, pg.Tables[2:]...)...)
	pg.ChartsAfter = 1
	return pg, nil
}

// rowValuesCell shows a rejected row's values (stored as a JSON object of mapped columns) as
// 学校代码：3601000001；姓名：张三, with the columns' Chinese labels, in the file's order.
func (rp *Reports) rowValuesCell(res *queries.Result) func(row []any, col int) (string, bool) {
	rv := colIndex(res, "row_values")
	return func(row []any, col int) (string, bool) {
		if col != rv {
			return "", false
		}
		text, ok := row[col].(string)
		if !ok {
			return "", false
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return "", false
		}
		var parts []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return "", false
			}
			var v any
			if err := dec.Decode(&v); err != nil {
				return "", false
			}
			if v == nil || v == "" {
				continue
			}
			parts = append(parts, rp.r.Label(fmt.Sprint(k))+"："+fmt.Sprint(v))
		}
		return strings.Join(parts, "；"), true
	}
}

// notLoaded shows the figures of a district or school that is on the school list but has
// no roster for the month as 未导入, not as zeros or dashes.
func notLoaded(res *queries.Result) func(row []any, col int) (string, bool) {
	teachers := colIndex(res, "teachers")
	return func(row []any, col int) (string, bool) {
		if teachers >= 0 && row[teachers] == nil && row[col] == nil {
			return "未导入", true
		}
		return "", false
	}
}

// gateView reads the school row: 达标 when the gate is met, else how many more must pass.
func gateView(res *queries.Result, row []any) *GateView {
	i64 := func(k string) int64 { v, _ := row[colIndex(res, k)].(int64); return v }
	g := &GateView{Passed: i64("passed_full_time"), FullTime: i64("full_time_teachers"), Percent: i64("gate_percent"), Shortfall: i64("shortfall")}
	if i := colIndex(res, "pass_rate"); i >= 0 {
		g.Rate = formatCell(res.Columns[i], row[i])
	}
	switch row[colIndex(res, "gate_met")] {
	case true:
		g.Met, g.Status = true, "达标"
	case false:
		g.Status = "未达标"
	default:
		g.Status = "无专任教师"
	}
	return g
}

// swotCell formats the SWOT figures by what they are: counts as integers, shares as
// percentages (differences in percentage points), averages with two decimals; differences
// signed, and never "-0.0".
func swotCell(res *queries.Result) func(row []any, col int) (string, bool) {
	unit := colIndex(res, "unit")
	value, avg, diff := colIndex(res, "value"), colIndex(res, "district_avg"), colIndex(res, "diff_from_district")
	return func(row []any, col int) (string, bool) {
		if col != value && col != avg && col != diff {
			return "", false
		}
		f, ok := row[col].(float64)
		if !ok {
			return "—", true
		}
		u := fmt.Sprint(row[unit])
		switch {
		case u == "比例" && col == diff:
			return signed(f*100, 1) + " 个百分点", true
		case col == diff:
			return signed(f, 2), true
		}
		// as the 诊断报告 shows them (swotText): shares by the one rounding rule
		return swotText(u, f, col == value), true
	}
}

// signed writes a difference with its sign; one that rounds to zero is "0".
func signed(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if strings.Trim(s, "-0.") == "" {
		return "0"
	}
	if f > 0 {
		return "+" + s
	}
	return s
}
