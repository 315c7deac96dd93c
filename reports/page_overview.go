package reports

import (
	"context"
	"fmt"
	"strings"
	"tisheng/queries"
)

func (rp *Reports) overview(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "overview", "总览", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "overview_districts", "各区县进度")
	if err != nil {
		return nil, err
	}
	res := t.Result
	src, err := rp.sources(ctx, pg.Params)
	if err != nil {
		return nil, err
	}
	dist := colIndex(res, "district")
	addColumn(res, "stale_schools", "数据滞后学校数", func(row []any) any { return int64(src.district[fmt.Sprint(row[dist])]) })
	res.Columns[len(res.Columns)-1].Type = "BIGINT"
	pg.Notice = src.note(pg.Params.Month)
	t.Cell = notLoaded(res)
	teachers := colIndex(res, "teachers")
	t.RowClasses = rowClasses(res, func(row []any) bool { return row[teachers] == nil }, "notloaded", "")
	var names []string
	series := map[string][]any{"hours_completion": nil, "assessment_pass_rate": nil, "completion_rate": nil}
	var gate, schools []any
	sum := map[string]int64{}
	for _, row := range res.Rows {
		names = append(names, fmt.Sprint(row[colIndex(res, "district")]))
		for k := range series {
			series[k] = append(series[k], pctValue(row[colIndex(res, k)]))
		}
		gate = append(gate, row[colIndex(res, "schools_gate_met")])
		schools = append(schools, row[colIndex(res, "schools")])
		for _, k := range []string{"schools", "schools_gate_met", "teachers", "hours_met", "assessment_passed", "complete", "shortfall"} {
			if v, ok := row[colIndex(res, k)].(int64); ok {
				sum[k] += v
			}
		}
	}
	pg.Summary = map[string]any{}
	for k, v := range sum {
		pg.Summary[k] = v
	}
	if sum["teachers"] > 0 {
		pg.Summary["hours_completion"] = float64(sum["hours_met"]) / float64(sum["teachers"])
		pg.Summary["assessment_pass_rate"] = float64(sum["assessment_passed"]) / float64(sum["teachers"])
		pg.Summary["completion_rate"] = float64(sum["complete"]) / float64(sum["teachers"])
	}
	pg.Charts = append(pg.Charts,
		Chart{ID: "rates", Title: "各区县学时达标率、测评合格率与完成率", Option: barOption(names, []seriesSpec{
			{"学时达标率", series["hours_completion"]}, {"测评合格率", series["assessment_pass_rate"]}, {"完成率", series["completion_rate"]}}, true)},
		Chart{ID: "gate", Title: "各区县达到95%门槛的学校", Option: barOption(names, []seriesSpec{
			{"学校数", schools}, {"达到门槛", gate}}, false)})
	return pg, nil
}

func (rp *Reports) schools(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "schools", "学校进度", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "schools", "各校95%门槛与学时完成情况（未达门槛的学校在前）")
	if err != nil {
		return nil, err
	}
	src, err := rp.sources(ctx, pg.Params)
	if err != nil {
		return nil, err
	}
	code := colIndex(t.Result, "school_code")
	addColumn(t.Result, "stale_sources", "数据滞后（来自更早月份的文件）", func(row []any) any {
		if s := src.school[fmt.Sprint(row[code])]; len(s) > 0 {
			return strings.Join(s, "；")
		}
		return nil
	})
	pg.Notice = src.note(pg.Params.Month)
	gate := colIndex(t.Result, "gate_met")
	t.Cell = notLoaded(t.Result)
	for _, row := range t.Result.Rows {
		if row[colIndex(t.Result, "teachers")] == nil {
			t.RowClasses = append(t.RowClasses, "notloaded")
			continue
		}
		switch row[gate] {
		case false:
			t.RowClasses = append(t.RowClasses, "behind")
		case nil:
			t.RowClasses = append(t.RowClasses, "nogate")
		default:
			t.RowClasses = append(t.RowClasses, "met")
		}
	}
	t.LinkCol = colIndex(t.Result, "school_name")
	t.List = true
	return pg, nil
}
