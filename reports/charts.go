package reports

import (
	"fmt"
	"strconv"
	"tisheng/queries"
)

type seriesSpec struct {
	name string
	data []any
}

// pctValue is a rate as the charts carry it: the percentage with one decimal, as text, so
// that a label reads 3.0% exactly as the table's cell does (ECharts takes numeric strings).
func pctValue(v any) any {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(queries.RatePercent(f), 'f', 1, 64)
	}
	return nil
}

func barOption(cats []string, ss []seriesSpec, percent bool) map[string]any {
	var series []any
	var legend []string
	for _, s := range ss {
		legend = append(legend, s.name)
		// value labels only where they cannot collide: few categories and few series
		label := map[string]any{"show": len(cats)*len(ss) <= 16, "position": "top", "fontSize": 11}
		if percent {
			label["formatter"] = "{c}%"
		}
		series = append(series, map[string]any{"name": s.name, "type": "bar", "data": s.data,
			"label": label, "labelLayout": map[string]any{"hideOverlap": true}})
	}
	y := map[string]any{"type": "value", "axisLabel": map[string]any{"color": "#333"}}
	if percent {
		y["max"] = 100
		y["axisLabel"] = map[string]any{"formatter": "{value}%", "color": "#333"}
	} else {
		y["minInterval"] = 1 // counts of schools and teachers: no 0.5 of a school
	}
	return map[string]any{
		"animation": false, // the figures at once, also when printed
		"tooltip":   map[string]any{"trigger": "axis"},
		"legend":    map[string]any{"data": legend},
		"grid":      map[string]any{"left": 40, "right": 20, "bottom": 40, "containLabel": true},
		"xAxis":     map[string]any{"type": "category", "data": cats, "axisLabel": map[string]any{"interval": 0, "rotate": rotate(len(cats))}},
		"yAxis":     y,
		"series":    series,
	}
}

func rotate(n int) int {
	if n > 8 {
		return 40
	}
	return 0
}

func lineOption(cats []string, ss []seriesSpec) map[string]any {
	o := barOption(cats, ss, true)
	for _, s := range o["series"].([]any) {
		m := s.(map[string]any)
		m["type"] = "line"
		m["showSymbol"], m["symbolSize"] = true, 8 // a single month is a point, not an empty chart
		if data, ok := m["data"].([]any); ok {
			for i, v := range data {
				if t, ok := v.(string); ok {
					data[i], _ = strconv.ParseFloat(t, 64)
				}
			}
		}
		// one label per point would stack where the lines meet; the tooltip gives values
		m["label"] = map[string]any{"show": false}
		m["emphasis"] = map[string]any{"label": map[string]any{"show": true}}
	}
	o["legend"] = map[string]any{"data": o["legend"].(map[string]any)["data"], "top": 0}
	o["grid"] = map[string]any{"left": 40, "right": 30, "top": 40, "bottom": 30, "containLabel": true}
	return o
}

// latestOnly marks a figure the models keep for the latest month only (coverage, SWOT)
// when the page shows an earlier month, so that nobody reads it as that month's.
func latestOnly(pg *Page) string {
	if len(pg.Months) > 0 && pg.Params.Month != pg.Months[0] {
		return "（仅有最新月份 " + pg.Months[0] + " 的数据）"
	}
	return ""
}

// blankCellNote explains the empty cells of a coverage heatmap: the catalogue has no point
// for that dimension in that environment, so there is nothing to cover.
const blankCellNote = "（空白格：能力点目录中没有该维度与环境组合的能力点）"

// coverageTitle adds blankCellNote when the grid has holes.
func coverageTitle(title string, res *queries.Result) string {
	dims, envs := map[string]bool{}, map[string]bool{}
	for _, row := range res.Rows {
		dims[fmt.Sprint(row[colIndex(res, "dimension")])] = true
		envs[fmt.Sprint(row[colIndex(res, "environment")])] = true
	}
	if len(res.Rows) < len(dims)*len(envs) {
		return title + blankCellNote
	}
	return title
}

func heatmapOption(res *queries.Result) map[string]any {
	dimI, envI, shareI := colIndex(res, "dimension"), colIndex(res, "environment"), colIndex(res, "teacher_share")
	var dims, envs []string
	for _, row := range res.Rows {
		if d := fmt.Sprint(row[dimI]); !contains(dims, d) {
			dims = append(dims, d)
		}
		if e := fmt.Sprint(row[envI]); !contains(envs, e) {
			envs = append(envs, e)
		}
	}
	var data []any
	for _, row := range res.Rows {
		x := indexOf(envs, fmt.Sprint(row[envI]))
		y := indexOf(dims, fmt.Sprint(row[dimI]))
		data = append(data, []any{x, y, pctValue(row[shareI])})
	}
	return map[string]any{
		"tooltip": map[string]any{"position": "top"},
		"grid":    map[string]any{"left": 90, "right": 20, "bottom": 90, "top": 10},
		"xAxis":   map[string]any{"type": "category", "data": envs, "splitArea": map[string]any{"show": true}},
		"yAxis":   map[string]any{"type": "category", "data": dims, "splitArea": map[string]any{"show": true}},
		"visualMap": map[string]any{"min": 0, "max": 100, "calculable": false, "orient": "horizontal", "left": "center", "bottom": 0,
			"itemHeight": 160, "text": []string{"100%", "0%"}, "inRange": map[string]any{"color": []string{"#f8696b", "#ffeb84", "#63be7b"}}},
		"series": []any{map[string]any{"name": "覆盖率（%）", "type": "heatmap", "data": data, "label": map[string]any{"show": true, "formatter": "{@[2]}%"}}},
	}
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}
