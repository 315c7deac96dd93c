package server

import (
	"fmt"
	"net/http"

	"tisheng/internal/auth"
	"tisheng/internal/scoped"
	"tisheng/queries"
	"tisheng/reports"
)

// The documents offices file (reports/annual_doc.go, reports/swot_doc.go), scoped as every
// download: the caller's view, its parameters narrowed at the edge.

// annualDocDownload is the 年度实施情况报告 (.docx); like the 年报, a district asked for by a
// caller who sees every district is written from that district's own database.
func (s *Server) annualDocDownload(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
	year, err := reports.ParseYear(r.URL.Query().Get("year"))
	if err != nil {
		return err
	}
	if p.District != "" && v.schools == nil {
		dv, err := s.scopeView(r.Context(), scoped.Key{District: p.District})
		if err != nil {
			return err
		}
		defer dv.release()
		v = dv
	}
	wb, err := v.rp.AnnualDoc(r.Context(), year, p)
	if err != nil {
		return err
	}
	what := "年度实施情况报告"
	if year != "" {
		what += " " + year + "年"
	}
	return s.send(w, r, what, p, wb)
}

// swotDownload is one school's 诊断报告; a school user's is its own without asking.
func (s *Server) swotDownload(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
	if sc := scopeOf(r.Context()); p.School == "" && sc.Role == auth.RoleSchool {
		p.School = sc.School
	}
	if p.School == "" {
		return fmt.Errorf("%w: 请指定学校：/download/swot.docx?school=学校代码", reports.ErrBadParam)
	}
	wb, err := v.rp.SchoolSWOT(r.Context(), p)
	if err != nil {
		return err
	}
	return s.send(w, r, "诊断报告", p, wb)
}

// swotZipDownload is the 诊断报告 of every school of a district, in one zip: a district
// user's own district; a caller who sees every district names one.
func (s *Server) swotZipDownload(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
	if p.District == "" && v.schools == nil {
		return fmt.Errorf("%w: 请指定区县：/download/swot.zip?district=区县", reports.ErrBadParam)
	}
	wb, err := v.rp.SchoolSWOTZip(r.Context(), p)
	if err != nil {
		return err
	}
	return s.send(w, r, "诊断报告（全部学校）", p, wb)
}
