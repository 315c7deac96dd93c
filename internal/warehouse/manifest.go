package warehouse

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A backup is a folder: the warehouse file copied by DuckDB, its key file, manifest.json
// saying what they hold, and SHA256SUMS (sha256sum's format) over the three, so that one
// flipped byte anywhere is found, by tisheng restore or by `sha256sum -c SHA256SUMS`.
const (
	ManifestName  = "manifest.json"
	ChecksumsName = "SHA256SUMS"
	// ManifestFormat is the shape of manifest.json this program writes and reads.
	ManifestFormat = 1
)

// The states of a backup.
const (
	StatusVerified = "verified" // written, opened read-only with its key, every count and digest equal
	StatusFailed   = "failed"   // written but not verified: never restored from
)

// Why a backup was taken.
const (
	ReasonManual    = "manual"    // an admin on the 管理 page or POST /api/admin/backup
	ReasonScheduled = "scheduled" // serve --backup-at
	ReasonUpgrade   = "upgrade"   // before the migrations of a newer release
	ReasonCommand   = "command"   // tisheng backup
)

// Manifest says what a backup holds.
type Manifest struct {
	Format int    `json:"format"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"` // a failed backup: why
	Reason string `json:"reason"`
	// Source is the warehouse file backed up (absolute), Database its file name here.
	Source   string `json:"source"`
	Database string `json:"database"`
	// Key is the key file's name here ("" when the warehouse's key was not found: an
	// upgrade backup of a warehouse whose key is elsewhere).
	Key string `json:"key,omitempty"`
	// KeyFingerprint identifies the key (warehouse.KeyFingerprint).
	KeyFingerprint string    `json:"key_fingerprint,omitempty"`
	CreatedAt      time.Time `json:"created_at"`  // when the copy's snapshot was taken
	FinishedAt     time.Time `json:"finished_at"` // when it was verified (or failed)
	// Engine is DuckDB's version (digests are compared only under the same engine);
	// StorageVersion the file format of the copy; Program the tisheng build.
	Engine         string  `json:"engine"`
	StorageVersion string  `json:"storage_version"`
	Program        string  `json:"program,omitempty"`
	SchemaVersion  int     `json:"schema_version"`
	Batches        Batches `json:"batches"`
	// Tables are every table and view of the warehouse with its rows at the snapshot, and
	// for tables a digest of their content (the sum of DuckDB's hash of each row).
	Tables    []TableCount   `json:"tables"`
	Sequences map[string]int `json:"sequences"` // each sequence's next value in the copy
	Files     []FileSum      `json:"files"`
	CopyMS    int64          `json:"copy_ms"`
	VerifyMS  int64          `json:"verify_ms"`
}

// Batches summarises the loaded files a backup holds.
type Batches struct {
	Count        int        `json:"count"`
	LastID       int64      `json:"last_id"`
	LastLoadedAt *time.Time `json:"last_loaded_at,omitempty"`
	LatestAsOf   string     `json:"latest_as_of,omitempty"`
}

// TableCount is one table or view of a backup.
type TableCount struct {
	Name   string `json:"name"`
	View   bool   `json:"view,omitempty"`
	Rows   int64  `json:"rows"`
	Digest string `json:"digest,omitempty"`
}

// FileSum is one file of a backup.
type FileSum struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Rows is the row count of a table or view of the manifest, -1 if it has none.
func (m *Manifest) Rows(name string) int64 {
	for _, t := range m.Tables {
		if t.Name == name {
			return t.Rows
		}
	}
	return -1
}

// lists reports whether the manifest names a file of the backup.
func (m *Manifest) lists(name string) bool {
	for _, f := range m.Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Size is the bytes of the backup's files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Bytes
	}
	return n
}

// SizeText is a backup's size as the commands and the 管理 page show it (73.5 MB).
func SizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", (n+1023)/1024)
}

// sumFile is a file's size and SHA-256.
func sumFile(dir, name string) (FileSum, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return FileSum{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileSum{}, fmt.Errorf("backup: read %s: %w", name, err)
	}
	return FileSum{Name: name, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeManifest writes manifest.json, then SHA256SUMS over it and the files it lists, each
// synced to disk.
func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeSynced(filepath.Join(dir, ManifestName), append(b, '\n'), 0o600); err != nil {
		return err
	}
	ms, err := sumFile(dir, ManifestName)
	if err != nil {
		return err
	}
	var sums bytes.Buffer
	for _, f := range append([]FileSum{ms}, m.Files...) {
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Name)
	}
	return writeSynced(filepath.Join(dir, ChecksumsName), sums.Bytes(), 0o600)
}

// writeSynced writes a new file and syncs it: a backup's files are on disk before the
// folder is renamed to its final name.
func writeSynced(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("backup: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("backup: sync %s: %w", path, err)
	}
	return f.Close()
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// BackupError is a backup that cannot be restored from, or a failed backup: what is wrong,
// in Chinese, naming the file.
type BackupError struct {
	Dir string
	Msg string
	Err error
}

func (e *BackupError) Error() string { return "备份 " + e.Dir + " " + e.Msg }
func (e *BackupError) Unwrap() error { return e.Err }

func backupErr(dir, format string, a ...any) *BackupError {
	return &BackupError{Dir: dir, Msg: fmt.Sprintf(format, a...)}
}

// ReadManifest reads a backup's manifest after checking SHA256SUMS: every file it lists is
// there with its digest (the manifest among them), and the manifest's own list agrees.
// It checks no database content: VerifyBackup does.
func ReadManifest(dir string) (*Manifest, error) {
	if base := filepath.Base(dir); strings.HasPrefix(base, partialPrefix) {
		return nil, backupErr(dir, "是一次未完成的备份（进程在备份途中停止），不能用于恢复")
	}
	if st, err := os.Stat(filepath.Join(dir, ChecksumsName)); err == nil && st.Size() > 1<<20 {
		return nil, backupErr(dir, "的校验文件 %s 大于 1 MB：不是 tisheng 写的，备份已损坏", ChecksumsName)
	}
	sums, err := os.ReadFile(filepath.Join(dir, ChecksumsName))
	if errors.Is(err, os.ErrNotExist) {
		if _, merr := os.Stat(filepath.Join(dir, ManifestName)); merr != nil {
			return nil, backupErr(dir, "不是 tisheng 的备份：没有 %s 和 %s", ManifestName, ChecksumsName)
		}
		return nil, backupErr(dir, "缺少校验文件 %s：无法确认备份完好，不能用于恢复", ChecksumsName)
	}
	if err != nil {
		return nil, &BackupError{Dir: dir, Msg: "的校验文件无法读取", Err: err}
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for line := 1; sc.Scan(); line++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" || strings.ContainsAny(name, `/\`) {
			return nil, backupErr(dir, "的校验文件 %s 第 %d 行格式不对：备份已损坏", ChecksumsName, line)
		}
		want[name] = sum
	}
	if err := sc.Err(); err != nil { // a line past the scanner's 64 KB: not a sums file
		return nil, backupErr(dir, "的校验文件 %s 有过长的行：备份已损坏", ChecksumsName)
	}
	if _, ok := want[ManifestName]; !ok {
		return nil, backupErr(dir, "的校验文件 %s 没有列出 %s：备份已损坏", ChecksumsName, ManifestName)
	}
	for name, sum := range want {
		got, err := sumFile(dir, name)
		if errors.Is(err, os.ErrNotExist) {
			if m, merr := readManifestFile(dir); merr == nil && name != ManifestName && !m.lists(name) {
				return nil, backupErr(dir, "的校验文件 %s 已损坏：它列出的 %s 不是清单中的文件", ChecksumsName, name)
			}
			return nil, backupErr(dir, "缺少文件 %s", name)
		}
		if err != nil {
			return nil, &BackupError{Dir: dir, Msg: "的文件 " + name + " 无法读取", Err: err}
		}
		if got.SHA256 != sum {
			return nil, backupErr(dir, "的%s：SHA-256 应为 %s，实为 %s", damaged(dir, name, got.SHA256), sum, got.SHA256)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, &BackupError{Dir: dir, Msg: "的清单无法读取", Err: err}
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, &BackupError{Dir: dir, Msg: "的清单 " + ManifestName + " 无法解读：" + err.Error(), Err: err}
	}
	if m.Format != ManifestFormat {
		return nil, backupErr(dir, "的清单格式为 %d，本程序只认识格式 %d", m.Format, ManifestFormat)
	}
	for _, f := range m.Files {
		if want[f.Name] != f.SHA256 {
			return nil, backupErr(dir, "的清单与校验文件不一致（%s）：备份已损坏", f.Name)
		}
		st, err := os.Stat(filepath.Join(dir, f.Name))
		if err != nil || st.Size() != f.Bytes {
			return nil, backupErr(dir, "的文件 %s 大小与清单不符", f.Name)
		}
	}
	if m.Database == "" || want[m.Database] == "" {
		return nil, backupErr(dir, "的清单没有列出仓库文件：备份已损坏")
	}
	if m.Key != "" && want[m.Key] == "" {
		return nil, backupErr(dir, "的清单列出的密钥文件 %s 没有校验和：备份已损坏", m.Key)
	}
	return &m, nil
}

// damaged says which file a checksum that does not match points at: the file, or the line
// of SHA256SUMS, when the manifest (an independent record of the other files' digests)
// agrees with the file.
func damaged(dir, name, actual string) string {
	if name == ManifestName {
		return "清单 " + ManifestName + " 与校验文件 " + ChecksumsName + " 不符，两者之一已损坏"
	}
	if m, err := readManifestFile(dir); err == nil {
		for _, f := range m.Files {
			if f.Name == name && f.SHA256 == actual {
				return "校验文件 " + ChecksumsName + " 已损坏（" + name + " 与清单记载的一致）"
			}
		}
	}
	return "文件 " + name + " 已损坏"
}
