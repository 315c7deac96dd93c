package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5/middleware"

	"tisheng/ingest"
	"tisheng/internal/apperr"
	"tisheng/models"
	"tisheng/queries"
)

// statusOf is the HTTP status of each code of apperr.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:      http.StatusBadRequest,
	apperr.Unauthorized: http.StatusUnauthorized,
	apperr.Forbidden:    http.StatusForbidden,
	apperr.NotFound:     http.StatusNotFound,
	apperr.Timeout:      http.StatusRequestTimeout,
	apperr.TooLarge:     http.StatusRequestEntityTooLarge,
	apperr.Unprocessed:  http.StatusUnprocessableEntity,
	apperr.TooMany:      http.StatusTooManyRequests,
	apperr.Conflict:     http.StatusConflict,
	apperr.Busy:         http.StatusServiceUnavailable,
	apperr.Unavailable:  http.StatusServiceUnavailable,
}

// errorStatus is the one place an error becomes a status and a message for the user: an
// apperr.Error says both (its code, its message field); the few errors of other packages
// that reach a handler are worded here from what they carry; anything else is a fault of
// the program, logged (masked) and answered with a generic message and the request's id.
func (s *Server) errorStatus(r *http.Request, err error) (int, string) {
	var ge *queries.GuardError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &ge):
		return http.StatusBadRequest, ge.Msg
	case errors.Is(err, queries.ErrMemory):
		return http.StatusUnprocessableEntity, fmt.Sprintf("查询占用内存过多，已中断（每个查询最多 %s）：请缩小范围或先汇总", humanBytes(s.adhoc.Memory))
	case errors.Is(err, queries.ErrTimeout):
		return http.StatusRequestTimeout, fmt.Sprintf("查询超过 %s 已中断，请缩小范围", s.adhoc.Timeout)
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("上传内容超过 %s 的上限", humanBytes(s.cfg.MaxUpload))
	case errors.Is(err, errSlowBody):
		return http.StatusRequestTimeout, fmt.Sprintf("请求体传送过慢（某 %s 内平均低于 %s/秒，或停顿超过 %s），已中断：请检查网络后重试",
			s.cfg.BodyWindow, humanBytes(s.cfg.BodyMinRate), s.cfg.BodyStall)
	}
	if msg := apperr.MessageOf(err); msg != "" {
		if code, ok := statusOf[apperr.CodeOf(err)]; ok {
			return code, msg
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, "请求超时，请稍后再试"
	}
	s.log.Error("request failed", "id", middleware.GetReqID(r.Context()), "path", r.URL.Path, "err", ingest.MaskSensitive(err.Error()))
	return http.StatusInternalServerError, "服务器内部错误（请求编号 " + middleware.GetReqID(r.Context()) + "）"
}

// writeError is every JSON error answer: {"error": message}, with Retry-After where the
// server or the caller's own limit is full.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Del("Content-Disposition")
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", fmt.Sprint(retryAfter))
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// refreshMessage is what an uploader or an admin reads when the refresh after their change
// failed: the files stay loaded, the figures stay those of the last refresh. A data test's
// failure names the tests (its rows are in the server's log, not in an answer).
// done says what was done before the refresh (文件已导入, 批次已撤回).
func (s *Server) refreshMessage(r *http.Request, err error, done string) string {
	var te *models.TestError
	if errors.As(err, &te) {
		names := make([]string, len(te.Failures))
		for i, f := range te.Failures {
			names[i] = fmt.Sprintf("%s（%d 行）", f.Test, f.Count)
		}
		s.log.Error("refresh failed its data tests", "id", middleware.GetReqID(r.Context()), "err", ingest.MaskSensitive(err.Error()))
		return done + "，但刷新统计未通过数据检查：" + strings.Join(names, "、") + "。页面仍显示上次刷新的数字；请把这些检查和请求编号 " +
			middleware.GetReqID(r.Context()) + " 告诉管理员"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// the server is stopping (or the request's time ran out): the refresh may have
		// committed just before; if not, the next start refreshes what is outdated
		return done + "，但统计的刷新被中断（服务正在停止或请求超时）。如果刷新没有完成，服务下次启动时会自动补做"
	}
	_, msg := s.errorStatus(r, err)
	return done + "，但刷新统计失败：" + msg + "。页面仍显示上次刷新的数字；稍后重新刷新即可补上"
}
