package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"tisheng/internal/apperr"

	"github.com/go-chi/chi/v5"

	"tisheng/internal/auth"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// who names the person behind an admin request, for batch_removals and the audit trail.
func (s *Server) who(r *http.Request) string { return scopeOf(r.Context()).User }

func (s *Server) batchesAPI(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.wh.Batches(r.Context())
	if err != nil {
		return err
	}
	if bs == nil {
		bs = []warehouse.Batch{}
	}
	stale, err := models.Outdated(r.Context(), s.wh.DB)
	if err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"batches": bs, "models_outdated": stale})
}

// deleteBatchAPI takes one batch back and refreshes. The removal stands even if the
// refresh then fails (the answer says so); the models stay marked outdated until one passes.
func (s *Server) deleteBatchAPI(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return apperr.Errorf(apperr.Invalid, "批次编号应为数字")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	removed, err := s.wh.RemoveBatches(r.Context(), s.who(r), []int64{id})
	s.audit(r, auth.Entry{Action: auth.ActBatchRemove, Object: fmt.Sprint(id), OK: err == nil, Detail: fmt.Sprint(removed, " ", err)})
	var nb *warehouse.NoBatchError
	if errors.As(err, &nb) {
		return apperr.Wrap(apperr.NotFound, err, nb.Error())
	}
	if err != nil {
		return err
	}
	out := map[string]any{"removed": removed, "refreshed": false}
	if err := s.refresh(r.Context()); err != nil {
		out["refresh_error"] = s.refreshMessage(r, err, "批次已撤回")
	} else {
		out["refreshed"] = true
	}
	s.extendWrite(w)
	return writeJSON(w, out)
}

func (s *Server) refreshAPI(w http.ResponseWriter, r *http.Request) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	start := time.Now()
	err := s.refresh(r.Context())
	s.audit(r, auth.Entry{Action: auth.ActRefresh, OK: err == nil, DurationMS: time.Since(start).Milliseconds(), Detail: fmt.Sprint(err)})
	if err != nil {
		s.extendWrite(w)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusConflict)
		return json.NewEncoder(w).Encode(map[string]any{"refreshed": false, "error": err.Error()})
	}
	s.extendWrite(w)
	return writeJSON(w, map[string]any{"refreshed": true})
}

// outdated reports whether the models are older than the batches; an error reading that is
// logged and taken as not outdated (the upload's own answer does not depend on it).
func (s *Server) outdated(ctx context.Context) bool {
	stale, err := models.Outdated(ctx, s.wh.DB)
	if err != nil {
		s.log.Error("outdated models check", "err", err)
		return false
	}
	return stale
}

// RefreshIfOutdated refreshes the models when they are older than the batches, as at the
// start of serve after a server was killed between a load and its refresh. It reports
// whether it refreshed.
func (s *Server) RefreshIfOutdated(ctx context.Context) (bool, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	stale, err := models.Outdated(ctx, s.wh.DB)
	if err != nil || !stale {
		return false, err
	}
	return true, s.refresh(ctx)
}
