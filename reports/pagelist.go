package reports

import (
	"context"
	"net/url"
	"strings"

	"tisheng/internal/apperr"
	"tisheng/queries"
)

// PageDef is one page of the site: where it is, its title, how it is built. The one list
// below feeds the server's routes (the page and its JSON twin), the navigation and the
// titles; adding a page is one entry here and its builder.
type PageDef struct {
	Name  string // overview, schools, …: the template's page name
	Path  string // the page, with {code} where a school goes: /schools/{code}
	API   string // its JSON twin under /api
	Title string // the page's title
	// Nav is the label of the page in the navigation ("" for a page reached from
	// another, which then lights its parent's: NavOf).
	Nav   string
	NavOf string
	// Build makes the report page (nil: a tool page the server renders itself: SQL,
	// upload, 管理, 订阅).
	Build func(rp *Reports, ctx context.Context, p queries.Params) (*Page, error)
	// Show says whether the viewer sees the page in the navigation (nil: everyone); the
	// server guards the routes themselves.
	Show func(*Viewer) bool
	// Keep says whether the navigation link carries the page's month and district.
	Keep bool
}

// pages is the site, in the navigation's order.
var pages = []PageDef{
	{Name: "overview", Path: "/", API: "/overview", Title: "总览", Nav: "总览", Keep: true, Build: (*Reports).overview},
	{Name: "schools", Path: "/schools", API: "/schools", Title: "学校进度", Nav: "学校进度", Keep: true, Build: (*Reports).schools},
	{Name: "school", Path: "/schools/{code}", API: "/school/{code}", Title: "学校详情", NavOf: "schools", Build: (*Reports).school},
	{Name: "abilities", Path: "/abilities", API: "/abilities", Title: "能力点", Nav: "能力点", Keep: true, Build: (*Reports).abilities},
	{Name: "trend", Path: "/trend", API: "/trend", Title: "月度趋势", Nav: "月度趋势", Keep: true, Build: (*Reports).trend},
	{Name: "quality", Path: "/quality", API: "/quality", Title: "数据质量", Nav: "数据质量", Keep: true, Build: (*Reports).quality},
	{Name: "sql", Path: "/sql", Title: "SQL 查询", Nav: "SQL 查询", Show: func(v *Viewer) bool { return v.CanSQL }},
	{Name: "upload", Path: "/upload", Title: "上传", Nav: "上传", Show: func(v *Viewer) bool { return v.CanUpload }},
	{Name: "admin", Path: "/admin", Title: "管理", Nav: "管理", Show: func(v *Viewer) bool { return v.IsAdmin }},
	{Name: "me", Path: "/me", Title: "我的订阅", Nav: "订阅"},
}

// Pages lists the site's pages, in the navigation's order.
func Pages() []PageDef { return append([]PageDef(nil), pages...) }

// ReportPages lists the pages built from the data (those with a JSON twin).
func ReportPages() []PageDef {
	var out []PageDef
	for _, p := range pages {
		if p.Build != nil {
			out = append(out, p)
		}
	}
	return out
}

// PageTitle is a page's title, its name if it has none.
func PageTitle(name string) string {
	for _, p := range pages {
		if p.Name == name {
			return p.Title
		}
	}
	return name
}

// NavItem is one link of the navigation.
type NavItem struct {
	Href, Label string
	Active      bool
}

// Nav is the navigation a viewer sees on page name, its month and district kept where the
// pages read them.
func Nav(v *Viewer, name string, p queries.Params) []NavItem {
	if v == nil {
		return nil
	}
	lit := name
	for _, pd := range pages {
		if pd.Name == name && pd.NavOf != "" {
			lit = pd.NavOf
		}
	}
	keep := url.Values{}
	if p.Month != "" {
		keep.Set("month", p.Month)
	}
	if p.District != "" {
		keep.Set("district", p.District)
	}
	var out []NavItem
	for _, pd := range pages {
		if pd.Nav == "" || (pd.Show != nil && !pd.Show(v)) {
			continue
		}
		href := pd.Path
		if pd.Keep {
			href += "?" + keep.Encode()
		}
		out = append(out, NavItem{Href: href, Label: pd.Nav, Active: pd.Name == lit})
	}
	return out
}

// pageDef finds a page by name.
func pageDef(name string) (PageDef, bool) {
	for _, p := range pages {
		if p.Name == name {
			return p, true
		}
	}
	return PageDef{}, false
}

func (rp *Reports) build(ctx context.Context, name string, p queries.Params) (*Page, error) {
	if pd, ok := pageDef(name); ok && pd.Build != nil {
		return pd.Build(rp, ctx, p)
	}
	return nil, apperr.Errorf(apperr.NotFound, "没有页面「%s」", strings.TrimSpace(name))
}
