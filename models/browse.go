package models

import (
	"context"
	"database/sql"
)

// TableDoc is one analyst table as the SQL page lists it.
type TableDoc struct {
	Name    string      `json:"name"`
	Label   string      `json:"label"`
	Columns []ColumnDoc `json:"columns"`
}

// ColumnDoc is one column with its Chinese label.
type ColumnDoc struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// tableLabels name the analyst tables in Chinese, for the SQL page's schema browser.
var tableLabels = map[string]string{
	"teacher_progress": "教师进度（最新月）", "school_gate": "学校95%门槛（最新月）", "district_summary": "区县汇总",
	"coverage": "维度×环境覆盖", "ability_choices": "能力点选择与通过", "swot_inputs": "SWOT 诊断数据", "swot_gaps": "无人覆盖的维度与环境",
	"annual_summary": "年度总体情况", "annual_by_group": "年度分组情况", "monthly_progress": "逐月进度",
	"teacher_progress_monthly": "教师进度（逐月）", "school_gate_monthly": "学校95%门槛（逐月）", "unmatched_rows": "名单外人员的记录",
	"data_quality": "数据质量（每个文件）", "teacher_points": "教师能力点结果", "teacher_category_hours": "教师分类学时",
	"teacher_plan": "研修计划与总结", "roster": "花名册（逐月）", "school_info": "学校信息（逐月）", "effective_batches": "每月生效的文件",
	"months": "月份", "profile": "规则方案", "profile_category_min": "分类学时要求", "profile_activity_cap": "活动学时封顶",
	"profile_catalogue": "方案的能力点目录", "batches": "已导入的文件", "rejects": "拒收的行", "abilities": "能力点目录",
	"raw_schools": "学校信息（原始）", "raw_teachers": "教师名单（原始）", "raw_hours": "学时（原始）",
	"raw_progress": "研修考核（原始）", "raw_assessments": "能力点测评结果（原始）",
}

// Browse lists the analyst tables of db with their columns' types and Chinese labels, in
// the schema document's order.
func Browse(ctx context.Context, db *sql.DB) ([]TableDoc, error) {
	d, err := Dictionary()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string][]ColumnDoc{}
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			return nil, err
		}
		doc, _ := Describe(d, t, c)
		cols[t] = append(cols[t], ColumnDoc{Name: c, Label: doc.Label, Type: typ})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []TableDoc
	for _, t := range docOrder {
		if len(cols[t]) > 0 {
			out = append(out, TableDoc{Name: t, Label: tableLabels[t], Columns: cols[t]})
		}
	}
	return out, nil
}
