package warehouse

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Restored says what a restore did.
type Restored struct {
	Manifest *Manifest
	DB       string   // the warehouse file restored
	Kept     []string // the files it replaced, kept beside it under new names
	Warnings []string // what the operator must check (a key in the environment)
}

// HeldError is a restore refused because a process holds the warehouse file.
type HeldError struct {
	Path    string
	PID     int
	Program string
}

func (e *HeldError) Error() string {
	who := fmt.Sprintf("进程 %d", e.PID)
	if e.Program != "" {
		who += "（" + e.Program + "）"
	}
	return fmt.Sprintf("仓库文件 %s 正被%s占用，通常是 tisheng serve 在提供服务：请先停止它（如 systemctl stop tisheng）再恢复；没有改动任何文件", e.Path, who)
}

// Restore puts the backup in folder from in place of the warehouse file db. It checks the
// backup first (SHA256SUMS, the manifest, the key against its fingerprint, the schema
// version against this program's) and refuses a file a process holds; then copies the
// warehouse beside db, opens the copy read-only with the backup's key and compares every
// table with the manifest, and only then moves any file it replaces (db, its WAL and its
// key file) aside as db.before-restore-TIME and puts the copy and the key in place.
// Nothing is changed when any check fails.
func Restore(ctx context.Context, from, db string, now time.Time) (*Restored, error) {
	m, err := ReadManifest(from)
	if err != nil {
		return nil, err
	}
	if m.Status != StatusVerified {
		return nil, backupErr(from, "在写入时未通过校验（%s），不能用于恢复", m.Error)
	}
	if known := KnownSchemaVersion(); m.SchemaVersion > known {
		return nil, backupErr(from, "的数据结构版本为 %d，由较新版本的 tisheng 写入；本程序的数据结构版本为 %d：请用较新版本恢复", m.SchemaVersion, known)
	}
	key, err := backupKey(from, m)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, backupErr(from, "没有密钥文件（原仓库的密钥当时没有找到）：请把原仓库的密钥文件放到恢复后的仓库旁（%s），然后手工复制 %s", KeyFile(db), m.Database)
	}
	db, err = filepath.Abs(db)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(db); err == nil && st.IsDir() {
		return nil, fmt.Errorf("restore: %s 是一个文件夹，--db 应为仓库文件", db)
	}
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if pid, ok := lockHolder(db); ok {
		return nil, &HeldError{Path: db, PID: pid, Program: programOf(pid)}
	}
	res := &Restored{Manifest: m, DB: db}
	tmp := db + ".restoring"
	os.Remove(tmp)
	os.Remove(tmp + ".wal")
	defer func() { os.Remove(tmp); os.Remove(tmp + ".wal"); os.RemoveAll(tmp + ".tmp") }()
	if err := copyFile(filepath.Join(from, m.Database), tmp); err != nil {
		return nil, err
	}
	if err := verifyDatabase(ctx, tmp, key, m); err != nil {
		return nil, &BackupError{Dir: from, Msg: "恢复出的仓库与清单不符，未恢复：" + err.Error(), Err: err}
	}
	// the file may have been taken since the first look
	if pid, ok := lockHolder(db); ok {
		return nil, &HeldError{Path: db, PID: pid, Program: programOf(pid)}
	}
	// the restored files belong to whoever owned the one replaced (or its folder)
	uid, gid, owned := ownerOf(db, filepath.Dir(db))
	keep := db + ".before-restore-" + now.In(backupZone).Format("20060102-150405")
	for i := 2; exists(keep) || exists(keep+".wal") || exists(KeyFile(keep)); i++ {
		keep = fmt.Sprintf("%s.before-restore-%s-%d", db, now.In(backupZone).Format("20060102-150405"), i)
	}
	for _, mv := range [][2]string{{db, keep}, {db + ".wal", keep + ".wal"}, {KeyFile(db), KeyFile(keep)}} {
		if !exists(mv[0]) {
			continue
		}
		if err := os.Rename(mv[0], mv[1]); err != nil {
			return res, fmt.Errorf("restore: keep %s: %w", mv[0], err)
		}
		res.Kept = append(res.Kept, mv[1])
	}
	if err := os.Rename(tmp, db); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := writeSynced(KeyFile(db)+".restoring", KeyText(key), 0o600); err != nil {
		return res, err
	}
	if err := os.Rename(KeyFile(db)+".restoring", KeyFile(db)); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if owned {
		if err := giveTo(uid, gid, db, KeyFile(db)); err != nil {
			return res, fmt.Errorf("restore: %w", err)
		}
	}
	if err := syncDir(filepath.Dir(db)); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := Private(db); err != nil {
		return res, err
	}
	if v := strings.TrimSpace(os.Getenv(KeyEnv)); v != "" {
		if k, err := hex.DecodeString(v); err != nil || KeyFingerprint(k) != m.KeyFingerprint {
			res.Warnings = append(res.Warnings, "环境变量 "+KeyEnv+" 中的密钥与备份的密钥不同：tisheng 会先用环境变量中的密钥，将拒绝打开恢复的仓库；请改用 "+KeyFile(db)+"（取消该环境变量）")
		}
	} else if f := os.Getenv(KeyFileEnv); f != "" && f != KeyFile(db) {
		res.Warnings = append(res.Warnings, "环境变量 "+KeyFileEnv+" 指向 "+f+"：tisheng 会用那个密钥文件而不是恢复的 "+KeyFile(db)+"；请确认两者相同，或取消该环境变量")
	}
	return res, nil
}

// copyFile copies a file to a new file, private and synced.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("restore: copy %s: %w", from, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("restore: %w", err)
	}
	return out.Close()
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, os.ErrNotExist)
}
