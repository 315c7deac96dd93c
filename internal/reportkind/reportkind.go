// Package reportkind is the one table of the reports a person can download or subscribe to:
// each kind's name, Chinese label, who may receive it and how it is built from the data a
// scope may read. The server's downloads and the deliveries (internal/deliver) both build
// through this table, so a new report (the Word documents, say) is one entry here and is at
// once downloadable, subscribable and listed on the pages' forms.
package reportkind

import (
	"context"
	"fmt"
	"strings"

	"tisheng/internal/auth"
	"tisheng/queries"
	"tisheng/reports"
)

// Source is the data one caller may read, as the server resolved it for their scope.
type Source interface {
	// Reports are the reports over the scope's data (the warehouse itself for a scope
	// that reaches everything, else the scope's own database).
	Reports() *reports.Reports
	// Everything reports whether the scope reaches every district.
	Everything() bool
	// District gives the reports over one district's own database, for a scope that
	// reaches everything and asks for one district's aggregates; release it when done.
	District(ctx context.Context, district string) (*reports.Reports, func(), error)
}

// Kind is one report.
type Kind struct {
	Name  string // in URLs, the command line and the subscriptions table: monthly
	Label string // 月报
	// Title names the report in a message's subject, after where and when:
	// 「东湖区 2025年6月 提升工程2.0 月报」.
	Title string
	// File is the download's path under /download/ (monthly.xlsx).
	File string
	// School: the report is one school's, and a subscription names the school.
	School bool
	// Yearly: the report covers the year of the latest month, not one month.
	Yearly bool
	// May says whether a scope may receive the report at all (the data it holds is the
	// scope's in any case).
	May func(auth.Scope) bool
	// Build makes the report from the scope's data; p is already fitted to the scope.
	Build func(ctx context.Context, src Source, p queries.Params) (*reports.Workbook, error)
}

func anyone(sc auth.Scope) bool { return sc.Valid() }

// notSchool: the 年报 compares districts and schools, which a school user does not see.
func notSchool(sc auth.Scope) bool { return sc.Valid() && sc.Role != auth.RoleSchool }

// kinds is the table, in the order forms list it.
var kinds = []Kind{
	{Name: "monthly", Label: "月报", Title: "提升工程2.0 月报", File: "monthly.xlsx", May: anyone,
		Build: func(ctx context.Context, src Source, p queries.Params) (*reports.Workbook, error) {
			return src.Reports().Monthly(ctx, p)
		}},
	{Name: "annual", Label: "年报", Title: "提升工程2.0 年报", File: "annual.xlsx", Yearly: true, May: notSchool, Build: annual},
	{Name: "school", Label: "学校名单", Title: "提升工程2.0 学校名单", File: "roster.xlsx", School: true, May: anyone,
		Build: func(ctx context.Context, src Source, p queries.Params) (*reports.Workbook, error) {
			return src.Reports().SchoolRoster(ctx, p)
		}},
	{Name: "annual-doc", Label: "年度实施情况报告", Title: "提升工程2.0 年度实施情况报告", File: "annual.docx", Yearly: true, May: notSchool, Build: annualDoc},
	{Name: "swot", Label: "诊断报告", Title: "提升工程2.0 诊断报告（SWOT分析）", File: "swot.docx", School: true, May: anyone,
		Build: func(ctx context.Context, src Source, p queries.Params) (*reports.Workbook, error) {
			return src.Reports().SchoolSWOT(ctx, p)
		}},
}

// annualDoc is the 年度实施情况报告 of the year asked for, else of the month's year (a
// delivery's), else of the latest; a district asked for by a caller who sees every
// district is worked from that district's own database, as the 年报.
func annualDoc(ctx context.Context, src Source, p queries.Params) (*reports.Workbook, error) {
	year := p.Year
	if year == "" && len(p.Month) >= 4 {
		year = p.Month[:4]
	}
	rp := src.Reports()
	if p.District != "" && src.Everything() {
		drp, release, err := src.District(ctx, p.District)
		if err != nil {
			return nil, err
		}
		defer release()
		rp = drp
	}
	return rp.AnnualDoc(ctx, year, p)
}

// annual is the 年报; a district asked for by a caller who sees every district is worked
// from that district's own database, so that its aggregates are the district's.
func annual(ctx context.Context, src Source, p queries.Params) (*reports.Workbook, error) {
	if p.District != "" && src.Everything() {
		rp, release, err := src.District(ctx, p.District)
		if err != nil {
			return nil, err
		}
		defer release()
		return rp.Annual(ctx, p)
	}
	return src.Reports().Annual(ctx, p)
}

// All lists the kinds.
func All() []Kind { return append([]Kind(nil), kinds...) }

// Get finds a kind by name.
func Get(name string) (Kind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names lists the kinds' names, for usage lines: monthly|annual|school.
func Names() string {
	var ns []string
	for _, k := range kinds {
		ns = append(ns, k.Name)
	}
	return strings.Join(ns, "|")
}

// Describe lists the kinds as the command line's errors name them: monthly（月报）、….
func Describe() string {
	var ns []string
	for _, k := range kinds {
		ns = append(ns, fmt.Sprintf("%s（%s）", k.Name, k.Label))
	}
	return strings.Join(ns, "、")
}

// Result is a report as built for one scope: the file, and, when asked for, the headline
// figures a message carries.
type Result struct {
	Kind     Kind
	File     *reports.Workbook
	Headline *reports.Headline
	Params   queries.Params // as fitted to the scope, the month filled in
}
