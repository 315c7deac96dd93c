package reports

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"tisheng/internal/apperr"

	"tisheng/queries"
)

// Headline is what a message about a report says in its body: where and when, the
// headline figures as 总览 (or 学校详情) shows them, and the schools behind the gate. It is
// built from the same pages, on the same data, as the report it goes with.
type Headline struct {
	Scope      string         `json:"scope"`       // 东湖区, 全部区县, or 东湖区 东湖一小 for one school
	Month      string         `json:"month"`       // 2025-06
	MonthLabel string         `json:"month_label"` // 2025年6月
	Figures    []Figure       `json:"figures"`
	Behind     []Behind       `json:"behind"`       // the schools below the gate, furthest first
	BehindAll  int            `json:"behind_count"` // how many there are (Behind may hold fewer)
	Page       string         `json:"page"`         // the page's path and query: /?month=…
	Notice     string         `json:"notice,omitempty"`
	Gate       *GateView      `json:"gate,omitempty"` // one school's standing
	Params     queries.Params `json:"-"`
}

// Figure is one headline figure as the page shows it.
type Figure struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Behind is a school below the gate.
type Behind struct {
	Code      string `json:"school_code"`
	Name      string `json:"school_name"`
	District  string `json:"district"`
	Shortfall int64  `json:"shortfall"`
	Rate      string `json:"pass_rate"`
}

// MaxBehind bounds the schools a message lists; the rest are counted.
const MaxBehind = 20

// Headline builds the message figures for p: one school's (p.School) or the scope's
// districts'. The month defaults to the latest, as the pages' does.
func (rp *Reports) Headline(ctx context.Context, p queries.Params) (*Headline, error) {
	if p.School != "" {
		return rp.schoolHeadline(ctx, p)
	}
	pg, err := rp.Build(ctx, "overview", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty {
		return nil, apperr.Errorf(apperr.NotFound, "仓库里还没有数据")
	}
	h := &Headline{Scope: "全部区县", Month: pg.Params.Month, MonthLabel: monthLabel(pg.Params.Month), Notice: pg.Notice, Params: pg.Params,
		Page: "/?" + pg.Params.Query()}
	if pg.Params.District != "" {
		h.Scope = pg.Params.District
	}
	s := pg.Summary
	i64 := func(k string) int64 { v, _ := s[k].(int64); return v }
	h.Figures = []Figure{
		{"教师", fmt.Sprint(i64("teachers"))},
		{"学时达标率", formatRate(s["hours_completion"])},
		{"测评合格率", formatRate(s["assessment_pass_rate"])},
		{"完成率", formatRate(s["completion_rate"])},
		{"达到95%门槛的学校", fmt.Sprintf("%d / %d", i64("schools_gate_met"), i64("schools"))},
		{"距门槛还差（人）", fmt.Sprint(i64("shortfall"))},
	}
	schools, err := rp.r.Named(ctx, "schools", pg.Params, 0)
	if err != nil {
		return nil, err
	}
	code, name, dist := colIndex(schools, "school_code"), colIndex(schools, "school_name"), colIndex(schools, "district")
	gate, short, rate := colIndex(schools, "gate_met"), colIndex(schools, "shortfall"), colIndex(schools, "pass_rate")
	var behind []Behind
	for _, row := range schools.Rows {
		if row[gate] != false {
			continue
		}
		b := Behind{Code: fmt.Sprint(row[code]), Name: fmt.Sprint(row[name]), District: fmt.Sprint(row[dist]), Rate: formatRate(row[rate])}
		b.Shortfall, _ = row[short].(int64)
		behind = append(behind, b)
	}
	sort.SliceStable(behind, func(i, j int) bool { return behind[i].Shortfall > behind[j].Shortfall })
	h.BehindAll = len(behind)
	if len(behind) > MaxBehind {
		behind = behind[:MaxBehind]
	}
	h.Behind = behind
	return h, nil
}

func (rp *Reports) schoolHeadline(ctx context.Context, p queries.Params) (*Headline, error) {
	pg, err := rp.Build(ctx, "school", p)
	if err != nil {
		return nil, err
	}
	if pg.Empty || pg.Gate == nil || len(pg.Tables) < 2 {
		return nil, apperr.Errorf(apperr.NotFound, "没有该学校的数据")
	}
	// the page puts the 本校概况 table second (after who to chase)
	var row []any
	var res *queries.Result
	for _, t := range pg.Tables {
		if t.ID == "school" && len(t.Result.Rows) > 0 {
			res, row = t.Result, t.Result.Rows[0]
		}
	}
	if row == nil {
		return nil, apperr.Errorf(apperr.NotFound, "学校 %s 没有数据", p.School)
	}
	val := func(k string) any { return row[colIndex(res, k)] }
	g := pg.Gate
	h := &Headline{Scope: fmt.Sprintf("%v %v", val("district"), val("school_name")), Month: pg.Params.Month, MonthLabel: monthLabel(pg.Params.Month),
		Notice: pg.Notice, Gate: g, Params: pg.Params,
		Page: "/schools/" + url.PathEscape(p.School) + "?" + queries.Params{Month: pg.Params.Month}.Query()}
	teachers, _ := val("teachers").(int64)
	met, _ := val("hours_met").(int64)
	h.Figures = []Figure{
		{"95%门槛", g.Status},
		{"专任教师合格", fmt.Sprintf("%d / %d（%s）", g.Passed, g.FullTime, g.Rate)},
		{"距门槛还差（人）", fmt.Sprint(g.Shortfall)},
		{"教师", fmt.Sprint(teachers)},
		{"学时达标", fmt.Sprintf("%d 人（%s）", met, formatRate(val("hours_completion")))},
		{"未完成培训的教师", fmt.Sprint(g.Behind)},
	}
	if val("gate_met") == false {
		h.BehindAll = 1
		h.Behind = []Behind{{Code: p.School, Name: fmt.Sprint(val("school_name")), District: fmt.Sprint(val("district")), Shortfall: g.Shortfall, Rate: g.Rate}}
	}
	return h, nil
}

// formatRate writes a rate as the pages do (95.0%), a missing one as —.
func formatRate(v any) string {
	return formatCell(queries.Column{Name: "x_rate", Type: "DOUBLE"}, v)
}
