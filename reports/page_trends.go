package reports

import (
	"context"
	"fmt"
	"tisheng/queries"
)

func (rp *Reports) abilities(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "abilities", "能力点", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	// Final results alone say little (a failure later retaken and passed vanishes): first
	// attempts beside final results show where teachers struggle.
	at, err := rp.table(ctx, pg, "ability_attempts", "各能力点的选择与通过：首次测评与最终结果（两者之差是重测后才通过的人数）")
	if err != nil {
		return nil, err
	}
	var codes []string
	var first, final []any
	for _, row := range at.Result.Rows {
		codes = append(codes, fmt.Sprint(row[0]))
		first = append(first, pctValue(row[colIndex(at.Result, "first_pass_rate")]))
		final = append(final, pctValue(row[colIndex(at.Result, "pass_rate")]))
	}
	at.Empty = "本月还没有能力点测评结果。"
	pg.Charts = append(pg.Charts, Chart{ID: "points", Title: "各能力点首次通过率与最终通过率", Option: barOption(codes, []seriesSpec{{"首次通过率", first}, {"最终通过率", final}}, true)})
	c, err := rp.table(ctx, pg, "coverage_matrix", "维度 × 环境覆盖"+latestOnly(pg))
	if err != nil {
		return nil, err
	}
	pg.Charts = append(pg.Charts, Chart{ID: "coverage", Title: coverageTitle("维度 × 环境覆盖（通过至少一个能力点的教师占比）"+latestOnly(pg), c.Result), Option: heatmapOption(c.Result)})
	return pg, nil
}

func (rp *Reports) trend(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "trend", "月度趋势", p)
	if err != nil || pg.Empty {
		return pg, err
	}
	t, err := rp.table(ctx, pg, "trend", "逐月进度")
	if err != nil {
		return nil, err
	}
	var months []string
	s := map[string][]any{}
	for _, row := range t.Result.Rows {
		months = append(months, fmt.Sprint(row[0]))
		for _, k := range []string{"hours_completion", "assessment_pass_rate", "completion_rate"} {
			s[k] = append(s[k], pctValue(row[colIndex(t.Result, k)]))
		}
		s["gate"] = append(s["gate"], row[colIndex(t.Result, "schools_gate_met")])
	}
	pg.Charts = append(pg.Charts,
		Chart{ID: "trend", Title: "逐月完成情况", Option: lineOption(months, []seriesSpec{
			{"学时达标率", s["hours_completion"]}, {"测评合格率", s["assessment_pass_rate"]}, {"完成率", s["completion_rate"]}})},
		Chart{ID: "gate", Title: "逐月达到95%门槛的学校", Option: barOption(months, []seriesSpec{{"达到门槛", s["gate"]}}, false)})
	return pg, nil
}

func (rp *Reports) quality(ctx context.Context, p queries.Params) (*Page, error) {
	pg, err := rp.base(ctx, "quality", "数据质量", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty && pg.Params.Month == "" {
		pg.Empty = false // the files loaded are worth showing even before any month has data
	}
	if _, err := rp.table(ctx, pg, "batches", "已导入的文件"); err != nil {
		return nil, err
	}
	title := "拒收的行"
	if p.Batch != "" {
		title = "拒收的行（批次 " + p.Batch + "）"
	}
	rj, err := rp.table(ctx, pg, "rejects", title)
	if err != nil {
		return nil, err
	}
	rj.Cell = rp.rowValuesCell(rj.Result)
	if _, err := rp.table(ctx, pg, "unmatched", "未匹配的记录（已保存，未计入）"); err != nil {
		return nil, err
	}
	return pg, nil
}
