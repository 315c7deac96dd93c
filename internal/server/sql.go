package server

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"time"
	"tisheng/internal/apperr"
	"tisheng/internal/auth"
	"tisheng/queries"
	"tisheng/reports"
)

func (s *Server) sqlPage(w http.ResponseWriter, r *http.Request) error {
	// every scope's database has the same tables and columns: the warehouse's say them
	schema, err := s.cfg.Models.Browse(r.Context(), s.wh.DB)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return s.reports.Render(w, "sql", &reports.Page{Name: "sql", Title: "SQL 查询", Profile: s.profile(r.Context()), Viewer: viewer(scopeOf(r.Context())), Schema: schema,
		Extra: map[string]string{"timeout": s.adhoc.Timeout.String(), "limit": fmt.Sprint(s.adhoc.RowLimit)}})
}

// sqlAPI runs one ad-hoc query: JSON body {"sql": …} or a form field sql. It runs on the
// caller's view: a district user's query reaches only its district's database.
func (s *Server) sqlAPI(w http.ResponseWriter, r *http.Request, v *view, _ queries.Params) (err error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	var q string
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			SQL string `json:"sql"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return apperr.Errorf(apperr.Invalid, "请求体应为 JSON：{\"sql\": \"…\"}")
		}
		q = body.SQL
	} else {
		if err := r.ParseForm(); err != nil {
			return apperr.Errorf(apperr.Invalid, "%v", err)
		}
		q = r.PostForm.Get("sql")
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	start := time.Now()
	var rows int64
	defer func() {
		s.cfg.Metrics.SQL(sqlOutcome(err))
		e := auth.Entry{Action: auth.ActSQL, Object: format, Detail: q, Rows: rows, DurationMS: time.Since(start).Milliseconds(), OK: err == nil}
		if err != nil {
			_, msg := s.errorStatus(r, err)
			e.Detail = q + "\n-- " + msg
		}
		s.audit(r, e)
	}()
	switch format {
	case "arrow", "json", "csv", "xlsx":
	default:
		return apperr.Errorf(apperr.Invalid, "format 应为 json、csv、xlsx 或 arrow")
	}
	// Checked before a slot is taken (a refused query holds none, however often it is
	// sent) and before any byte is written (a refusal is still a clean 4xx).
	if err := v.adhoc.Check(r.Context(), q); err != nil {
		return err
	}
	// a scope's raw tables, copied in after its pages' tables, before a slot is taken
	if err := v.ready(r.Context()); err != nil {
		return err
	}
	leave, why := s.gate.enter(scopeOf(r.Context()))
	if leave == nil {
		return apperr.New(apperr.Busy, why)
	}
	defer leave()
	switch format {
	case "arrow":
		w.Header().Set("Content-Type", "application/vnd.apache.arrow.stream")
		w.Header().Set("Content-Disposition", disposition("查询结果.arrow"))
		_, err := v.adhoc.WriteArrow(r.Context(), w, q)
		return err
	}
	res, err := v.adhoc.Run(r.Context(), q)
	if err != nil {
		return err
	}
	rows = int64(len(res.Rows))
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", disposition("查询结果.csv"))
		return queries.WriteCSV(w, res)
	case "xlsx":
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", disposition("查询结果.xlsx"))
		return queries.WriteXLSX(w, "查询结果", "", res)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	return queries.WriteJSON(w, res)
}
