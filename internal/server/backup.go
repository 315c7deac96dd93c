package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"tisheng/ingest"
	"tisheng/internal/apperr"
	"tisheng/internal/auth"
	"tisheng/internal/deliver"
	"tisheng/internal/warehouse"
	"tisheng/reports"
)

// BackupConfig says where the server's backups go.
type BackupConfig struct {
	Dir  string // the backup directory (serve --backup-dir); "": no backups from the server
	Keep int    // verified backups kept (the newest); 0: all
	Key  []byte // the warehouse key, written into every backup
	// At is the schedule (serve --backup-at, ParseBackupAt); nil: none.
	At cron.Schedule
	// AtSpec is the schedule as given, for the 管理 page.
	AtSpec string
}

// errNoBackupDir is a backup asked of a server started without --backup-dir.
var errNoBackupDir = apperr.New(apperr.Unavailable, "服务器没有设置备份目录：请用 tisheng serve --backup-dir 目录 启动后再备份")

// Backup writes a verified backup of the warehouse into the backup directory (see
// warehouse.Backup), then removes the backups beyond --backup-keep. Uploads and refreshes
// wait only while the copy's snapshot is taken; pages never wait. One backup at a time.
// A scheduled backup that falls while another runs waits for it, then runs.
func (s *Server) Backup(ctx context.Context, reason string) (*warehouse.Backup, []string, error) {
	bc := s.cfg.Backup
	if bc.Dir == "" {
		return nil, nil, errNoBackupDir
	}
	select {
	case s.backupSlot <- struct{}{}:
	default:
		if reason != warehouse.ReasonScheduled {
			// a double click, or two admins: not a fault of the server (409, not 5xx)
			return nil, nil, apperr.New(apperr.Conflict, "已有一个备份正在进行：请等它完成后再试")
		}
		select {
		case s.backupSlot <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	defer func() { <-s.backupSlot }()
	start := time.Now()
	b, err := s.wh.Backup(ctx, warehouse.BackupOptions{Dir: bc.Dir, Key: bc.Key, Reason: reason, Pause: s.pauseWriters})
	var size int64
	if b != nil {
		size = b.Manifest.Size()
	}
	s.cfg.Metrics.Backup(reason, err == nil, time.Now(), time.Since(start), size)
	var be *warehouse.BackupError
	switch {
	case errors.As(err, &be):
		s.log.Error("备份未通过校验", "path", be.Dir, "err", err)
		return b, nil, apperr.Wrap(apperr.Unprocessed, err, "备份未通过校验，已标记为失败："+be.Error())
	case err != nil:
		s.log.Error("备份失败", "err", err)
		if ctx.Err() != nil {
			return nil, nil, err
		}
		return nil, nil, apperr.Wrap(apperr.Unprocessed, err, "备份失败："+err.Error())
	}
	s.log.Info("备份完成并通过校验", "path", b.Path, "ms", time.Since(start).Milliseconds(), "bytes", size)
	pruned, err := warehouse.PruneBackups(bc.Dir, bc.Keep)
	if err != nil {
		s.log.Error("删除旧备份失败", "err", err)
	}
	return b, pruned, nil
}

// pauseWriters takes the write lock that uploads, refreshes and batch removals hold, in
// their queue (a backup waits for the upload under way), and gives it back with resume.
func (s *Server) pauseWriters(ctx context.Context) (func(), error) {
	got := make(chan struct{})
	go func() { s.writeMu.Lock(); close(got) }()
	select {
	case <-got:
		return s.writeMu.Unlock, nil
	case <-ctx.Done():
		go func() { <-got; s.writeMu.Unlock() }()
		return nil, ctx.Err()
	}
}

// backupAPI takes a backup now: POST /api/admin/backup. It answers where the backup is and
// what its manifest says.
func (s *Server) backupAPI(w http.ResponseWriter, r *http.Request) error {
	b, pruned, err := s.auditedBackup(r)
	s.extendWrite(w)
	if err != nil {
		return err
	}
	if pruned == nil {
		pruned = []string{}
	}
	return writeJSON(w, map[string]any{"path": b.Path, "status": b.Manifest.Status, "manifest": b.Manifest, "removed": pruned})
}

// adminBackupForm is the 管理 page's 立即备份 button.
func (s *Server) adminBackupForm(w http.ResponseWriter, r *http.Request) error {
	b, _, err := s.auditedBackup(r)
	s.extendWrite(w)
	if err != nil {
		code, msg := s.errorStatus(r, err)
		return s.renderAdmin(w, r, code, msg, "")
	}
	return s.renderAdmin(w, r, http.StatusOK, fmt.Sprintf("备份已完成并通过校验（%d 个批次，%s）：%s",
		b.Manifest.Batches.Count, warehouse.SizeText(b.Manifest.Size()), b.Path), "")
}

func (s *Server) auditedBackup(r *http.Request) (*warehouse.Backup, []string, error) {
	start := time.Now()
	b, pruned, err := s.Backup(r.Context(), warehouse.ReasonManual)
	msg := ""
	if err != nil {
		_, msg = s.errorStatus(r, err)
	}
	s.audit(r, backupEntry(b, pruned, err, msg, time.Since(start)))
	return b, pruned, err
}

// backupEntry is a backup's line in the audit log: where it went and what it holds, or why
// it failed (msg), and the old backups it removed.
func backupEntry(b *warehouse.Backup, pruned []string, err error, msg string, took time.Duration) auth.Entry {
	e := auth.Entry{Action: auth.ActBackup, OK: err == nil, DurationMS: took.Milliseconds()}
	if b != nil {
		e.Object, e.Detail = b.Path, fmt.Sprintf("%s，%d 个批次，%d 字节", b.Manifest.Status, b.Manifest.Batches.Count, b.Manifest.Size())
	}
	if err != nil {
		e.Detail = msg
	}
	if len(pruned) > 0 {
		e.Detail += "；删除旧备份 " + strings.Join(pruned, " ")
	}
	return e
}

// backupsData is the 管理 page's 备份 section.
func (s *Server) backupsData() reports.AdminBackups {
	bc := s.cfg.Backup
	d := reports.AdminBackups{Dir: bc.Dir, Schedule: bc.AtSpec, Keep: bc.Keep}
	if bc.Dir == "" {
		return d
	}
	bs, err := warehouse.ListBackups(bc.Dir)
	if err != nil {
		d.Error = err.Error()
	}
	for _, b := range bs {
		ab := reports.AdminBackup{Name: b.Name, Path: b.Path, Reason: backupReason(b.Reason), Batches: b.Batches,
			Size: warehouse.SizeText(b.Bytes), OK: b.Status == warehouse.StatusVerified, Error: b.Error}
		if !b.Created.IsZero() {
			ab.Created = b.Created.In(deliver.Zone()).Format("2006-01-02 15:04:05")
		}
		d.List = append(d.List, ab)
	}
	return d
}

func backupReason(r string) string {
	switch r {
	case warehouse.ReasonManual:
		return "手动"
	case warehouse.ReasonScheduled:
		return "定时"
	case warehouse.ReasonUpgrade:
		return "升级前"
	case warehouse.ReasonCommand:
		return "命令行"
	}
	return r
}

// RunBackups takes the scheduled backups until ctx ends. A scheduled time missed while the
// server was stopped (the newest backup is older than it) is made up once, at start.
func (s *Server) RunBackups(ctx context.Context) {
	bc := s.cfg.Backup
	if bc.At == nil || bc.Dir == "" {
		return
	}
	if bs, err := warehouse.ListBackups(bc.Dir); err == nil {
		var last time.Time
		for _, b := range bs {
			if b.Status == warehouse.StatusVerified && b.Reason != warehouse.ReasonUpgrade {
				last = b.Created
				break
			}
		}
		if !last.IsZero() && !bc.At.Next(last.In(deliver.Zone())).After(time.Now()) {
			s.log.Warn("服务停止期间错过了定时备份：现在补做一次", "last", last)
			s.scheduledBackup(ctx)
		}
	}
	for {
		next := bc.At.Next(time.Now().In(deliver.Zone()))
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.scheduledBackup(ctx)
	}
}

func (s *Server) scheduledBackup(ctx context.Context) {
	start := time.Now()
	b, pruned, err := s.Backup(ctx, warehouse.ReasonScheduled)
	if ctx.Err() != nil {
		return
	}
	msg := ""
	if err != nil {
		if msg = apperr.MessageOf(err); msg == "" {
			msg = err.Error()
		}
		s.log.Error("定时备份失败", "err", ingest.MaskSensitive(err.Error()))
	}
	e := backupEntry(b, pruned, err, msg, time.Since(start))
	e.User, e.Scope = "（定时备份）", "全部"
	if err := s.accounts.Record(ctx, e); err != nil {
		s.log.Error("audit", "err", err)
	}
}

var backupCron = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ParseBackupAt reads --backup-at: a five-field cron expression (minute hour day month
// weekday) in Beijing time, at most once an hour (a backup of a city's warehouse takes
// a minute of both cores).
func ParseBackupAt(spec string) (cron.Schedule, error) {
	spec = strings.Join(strings.Fields(spec), " ")
	if len(spec) > 100 || strings.Contains(spec, "TZ=") || strings.HasPrefix(spec, "@") {
		return nil, fmt.Errorf("备份时间「%s」无效：应为五段 cron 表达式（分 时 日 月 周，北京时间），如 30 2 * * * 表示每天 2:30", spec)
	}
	if n := len(strings.Fields(spec)); n != 5 {
		return nil, fmt.Errorf("备份时间「%s」应有五段（分 时 日 月 周），这里有 %d 段", spec, n)
	}
	c, err := backupCron.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("备份时间「%s」无效：%v", spec, err)
	}
	t := c.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, deliver.Zone()))
	if t.IsZero() {
		return nil, fmt.Errorf("备份时间「%s」永远不会到来", spec)
	}
	for range 60 {
		n := c.Next(t)
		if n.IsZero() {
			break
		}
		if n.Sub(t) < time.Hour {
			return nil, fmt.Errorf("备份时间「%s」过于频繁：两次备份至少相隔 1 小时", spec)
		}
		t = n
	}
	return c, nil
}
