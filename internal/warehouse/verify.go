package warehouse

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// verifyDatabase opens the copy at path read-only and locked, as a later tisheng opens a
// warehouse, and checks it against the manifest: the key is the one it was loaded with,
// its storage format and schema version, every table and view with its rows (and, under
// the engine that wrote the manifest, each table's digest), and every sequence past the
// values it numbers. m.Sequences is filled when empty (a new backup), else compared.
func verifyDatabase(ctx context.Context, path string, key []byte, m *Manifest) (err error) {
	w, err := OpenWith(ctx, path, Options{ReadOnly: true, Locked: true})
	if err != nil {
		return fmt.Errorf("无法打开：%w", err)
	}
	defer func() {
		if cerr := w.Close(); err == nil && cerr != nil {
			err = cerr
		}
		os.Remove(path + ".tmp") // the spill folder OpenWith made beside it, empty
	}()
	if key != nil {
		if err := CheckKey(ctx, w.DB, key); errors.Is(err, ErrWrongKey) {
			return errors.New("密钥与仓库不符：备份中的密钥不是这个仓库导入时所用的密钥")
		} else if err != nil {
			return err
		}
	}
	var storage string
	if err := w.DB.QueryRowContext(ctx, `SELECT coalesce(tags['storage_version'], '') FROM duckdb_databases() WHERE database_name = current_database()`).Scan(&storage); err != nil {
		return err
	}
	if !strings.HasPrefix(storage, m.StorageVersion) {
		return fmt.Errorf("存储格式为 %s，清单记载的是 %s", storage, m.StorageVersion)
	}
	v, err := SchemaVersion(ctx, w.DB)
	if err != nil {
		return err
	}
	if v != m.SchemaVersion {
		return fmt.Errorf("数据结构版本为 %d，清单记载的是 %d", v, m.SchemaVersion)
	}
	var engine string
	if err := w.DB.QueryRowContext(ctx, `SELECT version()`).Scan(&engine); err != nil {
		return err
	}
	objs, err := objects(ctx, w.DB)
	if err != nil {
		return err
	}
	have := map[string]object{}
	for _, o := range objs {
		have[o.name] = o
	}
	for _, t := range m.Tables {
		o, ok := have[t.Name]
		if !ok || o.view != t.View {
			return fmt.Errorf("缺少%s %s", map[bool]string{false: "表", true: "视图"}[t.View], t.Name)
		}
		delete(have, t.Name)
		var n int64
		if err := w.DB.QueryRowContext(ctx, `SELECT count(*) FROM `+ident(t.Name)).Scan(&n); err != nil {
			return fmt.Errorf("读取 %s 失败：%w", t.Name, err)
		}
		if n != t.Rows {
			return fmt.Errorf("%s 有 %d 行，清单记载的是 %d 行", t.Name, n, t.Rows)
		}
		if t.View || engine != m.Engine {
			continue // DuckDB's hash is its own: another engine's digests are not comparable
		}
		d, err := digest(ctx, w.DB, t.Name)
		if err != nil {
			return fmt.Errorf("读取 %s 失败：%w", t.Name, err)
		}
		if d != t.Digest {
			return fmt.Errorf("%s 的内容与清单不符（行数相同，摘要不同）", t.Name)
		}
	}
	if len(have) > 0 {
		extra := slices.Sorted(maps.Keys(have))
		return fmt.Errorf("有清单没有记载的表或视图 %s", strings.Join(extra, "、"))
	}
	seqs := map[string]int{}
	rows, err := w.DB.QueryContext(ctx, `SELECT sequence_name, start_value FROM duckdb_sequences() WHERE database_name = current_database() AND schema_name = 'main'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		var next int64
		if err := rows.Scan(&name, &next); err != nil {
			rows.Close()
			return err
		}
		seqs[name] = int(next)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for name, next := range seqs {
		high, err := ownersMax(ctx, w.DB, "", sequenceOwners[name], m)
		if err != nil {
			return err
		}
		if int64(next) <= high {
			return fmt.Errorf("序列 %s 的下一个值 %d 不大于已用的 %d：恢复后会重复编号", name, next, high)
		}
	}
	if m.Sequences == nil {
		m.Sequences = seqs
	} else if !maps.Equal(seqs, m.Sequences) {
		return fmt.Errorf("序列 %v 与清单记载的 %v 不符", seqs, m.Sequences)
	}
	return nil
}

// VerifyBackup checks a backup folder without restoring it: its checksums and manifest
// (ReadManifest), its state, and its warehouse opened read-only with its key, every count
// and digest compared with the manifest.
func VerifyBackup(ctx context.Context, dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m.Status != StatusVerified {
		return m, backupErr(dir, "在写入时未通过校验（%s），不能用于恢复", m.Error)
	}
	key, err := backupKey(dir, m)
	if err != nil {
		return m, err
	}
	if key == nil {
		// restore refuses it: without its key, new loads could not be matched to old ones
		return m, backupErr(dir, "没有密钥文件：仓库文件完好与否都不能用它恢复（tisheng restore 会拒绝）")
	}
	if err := verifyDatabase(ctx, filepath.Join(dir, m.Database), key, m); err != nil {
		return m, &BackupError{Dir: dir, Msg: "的仓库文件 " + m.Database + " 与清单不符：" + err.Error(), Err: err}
	}
	return m, nil
}

// backupKey reads a backup's key file and checks it against the manifest's fingerprint.
func backupKey(dir string, m *Manifest) ([]byte, error) {
	if m.Key == "" {
		return nil, nil
	}
	b, err := readKeyFile(filepath.Join(dir, m.Key))
	if err != nil {
		return nil, &BackupError{Dir: dir, Msg: "的密钥文件无法读取：" + err.Error(), Err: err}
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, backupErr(dir, "的密钥文件 %s 不是有效的密钥", m.Key)
	}
	if KeyFingerprint(key) != m.KeyFingerprint {
		return nil, backupErr(dir, "的密钥文件 %s 与清单记载的不符", m.Key)
	}
	return key, nil
}
