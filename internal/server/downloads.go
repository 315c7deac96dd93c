package server

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/queries"
	"tisheng/reports"

	"github.com/go-chi/chi/v5"
)

func (s *Server) tableDownload(csv bool) scopedHandler {
	return func(w http.ResponseWriter, r *http.Request, v *view, p queries.Params) error {
		wb, err := v.rp.TableDownload(r.Context(), chi.URLParam(r, "query"), p, csv)
		if err != nil {
			return err
		}
		return s.send(w, r, chi.URLParam(r, "query"), p, wb)
	}
}

// send writes a workbook with its file name and records the download. It is built into
// memory first so that a failure is still a clean error response rather than half a file.
func (s *Server) send(w http.ResponseWriter, r *http.Request, what string, p queries.Params, wb *reports.Workbook) error {
	var buf strings.Builder
	if err := wb.Write(&buf); err != nil {
		return err
	}
	s.audit(r, auth.Entry{Action: auth.ActDownload, Object: wb.FileName, Rows: int64(wb.Rows), OK: true,
		Detail: what + " " + p.Query()})
	w.Header().Set("Content-Type", deliver.ContentType(wb.FileName))
	w.Header().Set("Content-Disposition", disposition(wb.FileName))
	w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
	_, err := io.WriteString(w, buf.String())
	return err
}

// disposition is an RFC 6266 attachment header with an RFC 5987 UTF-8 file name and an
// ASCII fallback for old clients.
func disposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, url.PathEscape(name))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.0f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", n/1024)
}
