package server

import (
	"net/http"
	"tisheng/internal/apperr"

	"tisheng/queries"
)

// The documents offices file (reports/annual_doc.go, reports/swot_doc.go) are report kinds
// (internal/reportkind), downloaded and delivered as the workbooks are; this is the one
// download of several: a district's diagnoses in one zip.

// swotZipDownload is the 诊断报告 of every school of a district, in one zip: a district
// user's own district; a caller who sees every district names one.
func (s *Server) swotZipDownload(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
	if p.District == "" && v.schools == nil {
		return apperr.Errorf(apperr.Invalid, "参数错误：请指定区县：/download/swot.zip?district=区县")
	}
	wb, err := v.rp.SchoolSWOTZip(r.Context(), p)
	if err != nil {
		return err
	}
	return s.send(w, r, "诊断报告（全部学校）", p, wb)
}
