package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"tisheng/ingest"
	"tisheng/internal/apperr"
	"tisheng/internal/auth"
	"tisheng/reports"
)

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return s.reports.Render(w, "upload", &reports.Page{Name: "upload", Title: "上传", Profile: s.profile(r.Context()), Viewer: viewer(scopeOf(r.Context())),
		Extra: map[string]string{"limit": humanBytes(s.cfg.MaxUpload)}})
}

// upload is one uploaded file: where it was saved, the name the user gave it, and its
// kind as its header says (detected once, on arrival).
type upload struct {
	path, name string
	kind       ingest.Kind
}

// ingestAPI takes several files (multipart, streamed to temporary files), loads them as
// `tisheng ingest` would, then refreshes the models with the recorded profile. The whole
// body is received before an upload slot is asked for.
func (s *Server) ingestAPI(w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if err != nil {
			// one line for a refused upload, whatever it held: no file of it was loaded
			_, msg := s.errorStatus(r, err)
			s.audit(r, auth.Entry{Action: auth.ActUpload, Detail: "未导入：" + msg})
		}
	}()
	leave, why := s.receiving.enter(scopeOf(r.Context()))
	if leave == nil {
		busy(w, why)
		return nil
	}
	dir, files, opts, err := s.receiveUpload(w, r)
	leave()
	if dir != "" {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return err
	}
	if !s.uploadSlots.tryAcquire() {
		busy(w, fmt.Sprintf("服务器正忙：同时导入的上传已达上限 %d 个，请 %d 秒后再试", cap(s.uploadSlots), retryAfter))
		return nil
	}
	defer s.uploadSlots.release()
	sc := scopeOf(r.Context())
	if sc.Role == auth.RoleSchool {
		// a school's 研修考核 files are its own
		if opts.School != "" && opts.School != sc.School {
			return forbidden(sc, "学校 "+opts.School)
		}
		opts.School = sc.School
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var results []ingest.Result
	loaded := false
	// Uploaded files keep their own names (they carry as-of dates): load one by one in
	// dependency order, each named as the user named it.
	for _, f := range orderUploads(files) {
		o := opts
		o.Name = f.name
		// The page's 学校代码 belongs to 研修考核 files, which name no school; other files
		// name their schools row by row.
		if f.kind != ingest.KindProgress {
			o.School = ""
		}
		// worked out per file: a school list earlier in the upload may add the district's schools
		lim, err := s.uploadLimit(r.Context(), sc)
		if err != nil {
			return err
		}
		if lim != nil && o.School != "" && !lim.HeldEver(o.School) {
			return forbidden(sc, "学校 "+o.School)
		}
		o.Limit = lim
		start := time.Now()
		res := s.loader.LoadFile(r.Context(), f.path, o)
		s.cfg.Metrics.Ingest(res.Kind, res.Status, res.Accepted, res.Rejected)
		s.audit(r, auth.Entry{Action: auth.ActUpload, Object: f.name, Rows: int64(res.Accepted), DurationMS: time.Since(start).Milliseconds(),
			OK: res.Status != ingest.StatusFailed, Detail: fmt.Sprintf("%s %s 接收 %d 拒收 %d 批次 %d %s", res.Status, res.Kind, res.Accepted, res.Rejected, res.Batch, res.Error)})
		if res.Status == ingest.StatusLoaded {
			loaded = true
		}
		if res.Status == ingest.StatusAlreadyLoaded {
			// recorded in full above; the uploader is told what its scope may know
			if res, err = s.repeatAnswer(r.Context(), sc, res); err != nil {
				return err
			}
		}
		results = append(results, res)
	}
	out := map[string]any{"files": results, "refreshed": false}
	// Models older than the batches (a server killed between a load and its refresh) are
	// refreshed even when every file was already loaded.
	if loaded || s.outdated(r.Context()) {
		if err := s.refresh(r.Context()); err != nil {
			out["refresh_error"] = s.refreshMessage(r, err, "文件已导入")
		} else {
			out["refreshed"] = true
		}
	}
	s.extendWrite(w)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// receiveUpload reads an upload's whole body: its files into a new directory (returned
// even on an error, for the caller to remove), and its fields. It refuses, before anything
// is loaded, a request with more files than MaxUploadFiles or more other parts than
// maxOtherParts.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request) (string, []upload, ingest.Options, error) {
	var opts ingest.Options
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, opts, apperr.Errorf(apperr.Invalid, "请用 multipart/form-data 上传文件")
	}
	dir, err := os.MkdirTemp(s.uploadDir(), "upload-")
	if err != nil {
		return "", nil, opts, err
	}
	var files []upload
	others := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return dir, nil, opts, err
		}
		name := part.FormName()
		if (name == "files" || name == "file") && part.FileName() != "" {
			if len(files) == s.cfg.MaxUploadFiles {
				return dir, nil, opts, apperr.Errorf(apperr.TooLarge, "一次最多上传 %d 个文件，这次多于 %d 个：请分批上传，没有导入任何文件", s.cfg.MaxUploadFiles, s.cfg.MaxUploadFiles)
			}
			u, err := saveUpload(dir, len(files), part)
			if err != nil {
				return dir, nil, opts, err
			}
			files = append(files, u)
			continue
		}
		if others++; others > maxOtherParts {
			return dir, nil, opts, apperr.Errorf(apperr.Invalid, "上传请求中文件以外的字段过多（最多 %d 个）：只需 files、as_of 和 school，没有导入任何文件", maxOtherParts)
		}
		switch name {
		case "as_of":
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			if s := strings.TrimSpace(string(v)); s != "" {
				t, err := time.Parse("2006-01-02", s)
				if err != nil {
					return dir, nil, opts, apperr.Errorf(apperr.Invalid, "数据截止日期应为 YYYY-MM-DD")
				}
				opts.AsOf = t
			}
		case "school":
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			opts.School = strings.TrimSpace(string(v))
		}
	}
	if len(files) == 0 {
		return dir, nil, opts, apperr.Errorf(apperr.Invalid, "没有选择文件")
	}
	return dir, files, opts, nil
}

// orderUploads sorts uploads the way `tisheng ingest` orders its files, schools and
// rosters first, keeping the user's order otherwise.
func orderUploads(files []upload) []upload {
	out := append([]upload(nil), files...)
	sort.SliceStable(out, func(i, j int) bool { return ingest.LoadRank(out[i].kind) < ingest.LoadRank(out[j].kind) })
	return out
}

func saveUpload(dir string, i int, part *multipart.Part) (upload, error) {
	name := filepath.Base(part.FileName())
	p := filepath.Join(dir, fmt.Sprintf("%03d%s", i, filepath.Ext(name)))
	// private whatever the umask: an upload holds teachers' names and ID numbers
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return upload{}, err
	}
	if _, err := io.Copy(f, part); err != nil {
		f.Close()
		return upload{}, err
	}
	if err := f.Close(); err != nil {
		return upload{}, err
	}
	k, _ := ingest.PeekKind(p) // an unreadable file fails, with its reason, when it is loaded
	return upload{path: p, name: name, kind: k}, nil
}

// uploadLimit is what an uploader may write: nothing limits the project office; a district
// user writes its district's schools (by the newest school list naming each), a school
// user its own school.
func (s *Server) uploadLimit(ctx context.Context, sc auth.Scope) (*ingest.Limit, error) {
	switch {
	case sc.IsAdmin():
		return nil, nil
	case sc.Role == auth.RoleSchool, sc.Role == auth.RoleDistrict:
		// every entry of every school list: which district holds a school is decided for
		// each file's month (ingest.Limit)
		rows, err := s.wh.DB.QueryContext(ctx, `SELECT r.school_code, r.school_name, r.district, b.as_of, r.batch_id
			FROM raw_schools r JOIN batches b ON b.batch_id = r.batch_id WHERE b.as_of IS NOT NULL`)
		if err != nil {
			return nil, fmt.Errorf("upload scope: %w", err)
		}
		defer rows.Close()
		var lists []ingest.Listing
		for rows.Next() {
			var e ingest.Listing
			if err := rows.Scan(&e.Code, &e.Name, &e.District, &e.AsOf, &e.Batch); err != nil {
				return nil, err
			}
			lists = append(lists, e)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if sc.Role == auth.RoleDistrict {
			return ingest.NewLimit(sc.District, "", sc.String(), lists), nil
		}
		// a school user writes its own school (its 研修考核 names no school: the code is enough)
		return ingest.NewLimit("", sc.School, sc.String(), lists), nil
	}
	return nil, forbidden(sc, "上传")
}

// repeatAnswer is what an uploader is told of bytes already loaded: the earlier batch's id,
// date and counts only when that batch is in the uploader's scope (its own upload, or one
// its database holds). Of another scope's file it learns no more than that the same bytes
// are loaded: they cannot be loaded twice.
func (s *Server) repeatAnswer(ctx context.Context, sc auth.Scope, res ingest.Result) (ingest.Result, error) {
	if sc.Everything() {
		return res, nil
	}
	var byDistrict, bySchool sql.NullString
	if err := s.wh.DB.QueryRowContext(ctx, `SELECT loaded_district, loaded_school FROM batches WHERE batch_id = ?`, res.Batch).
		Scan(&byDistrict, &bySchool); err != nil {
		return res, fmt.Errorf("repeat answer: %w", err)
	}
	if (sc.School != "" && bySchool.String == sc.School) || (sc.School == "" && byDistrict.String == sc.District && byDistrict.Valid) {
		return res, nil
	}
	if s.ready(ctx) {
		v, err := s.viewFor(ctx, sc)
		if err != nil {
			return res, err
		}
		defer v.release()
		var n int
		if err := v.runner.DB().QueryRowContext(ctx, `SELECT count(*) FROM batches WHERE batch_id = ?`, res.Batch).Scan(&n); err != nil {
			return res, fmt.Errorf("repeat answer: %w", err)
		}
		if n > 0 {
			return res, nil
		}
	}
	return ingest.Result{File: res.File, Status: ingest.StatusAlreadyLoaded,
		Error: "内容完全相同的文件已导入过（不在您的范围内，不显示其批次与行数），无需重复导入"}, nil
}
