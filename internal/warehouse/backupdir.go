package warehouse

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	// Backup folders are named in Beijing time whatever the machine's zone database holds.
	_ "time/tzdata"
)

// The layout of a backup directory:
//
//	DIR/20250701-023000-scheduled/   a verified backup (manifest.json, SHA256SUMS, the files)
//	DIR/20250701-023000-manual.failed/  written but failed its verification
//	DIR/.partial-20250701-023000-manual/  a backup being written (or abandoned by a kill)
//	DIR/.staging/                     where DuckDB writes the copy: the one place the
//	                                  serving database may write (allowed_directories)
//
// A folder gets its final name last, by a rename, once everything in it is written,
// synced and verified: a process killed at any point leaves only a .partial- folder, which
// the next backup (or the next serve) removes.
const (
	partialPrefix = ".partial-"
	stagingName   = ".staging"
	failedSuffix  = ".failed"
	lockName      = ".lock"
)

// StagingDir is the folder under a backup directory where DuckDB writes the copy; serve
// lets its locked database write there and nowhere else.
func StagingDir(dir string) string { return filepath.Join(dir, stagingName) }

// DefaultBackupDir is where the backup taken before an upgrade goes when no backup
// directory is given: FILE.backups beside the warehouse.
func DefaultBackupDir(db string) string { return db + ".backups" }

// backupZone names backup folders.
var backupZone = func() *time.Location {
	z, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return z
}()

// newBackupName is a name for a backup taken now that no folder of dir has yet.
func newBackupName(dir string, now time.Time, reason string) string {
	base := now.In(backupZone).Format("20060102-150405") + "-" + reason
	name := base
	for i := 2; ; i++ {
		taken := false
		for _, n := range []string{name, name + failedSuffix, partialPrefix + name} {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				taken = true
			}
		}
		if !taken {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// BackupInfo is one backup of a directory, as lists show it.
type BackupInfo struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Status   string    `json:"status"` // verified, failed
	Reason   string    `json:"reason"`
	Created  time.Time `json:"created_at"`
	Bytes    int64     `json:"bytes"`
	Batches  int       `json:"batches"`
	Schema   int       `json:"schema_version"`
	Error    string    `json:"error,omitempty"`
	Manifest *Manifest `json:"-"`
}

// ListBackups lists the backups of dir, newest first, from their manifests (not checked
// against their files: ReadManifest does that). Folders being written are not listed; a
// folder whose manifest cannot be read is listed as failed.
func ListBackups(dir string) ([]BackupInfo, error) {
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var out []BackupInfo
	for _, e := range es {
		// only what tisheng named is a backup: anything else in the folder (an office's
		// own files, another program's backups) is neither listed nor ever removed
		if !e.IsDir() || !backupName.MatchString(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		bi := BackupInfo{Name: e.Name(), Path: p, Status: StatusFailed}
		m, err := readManifestFile(p)
		switch {
		case err != nil:
			bi.Error = "清单无法读取：" + err.Error()
		default:
			bi.Manifest = m
			bi.Reason, bi.Created, bi.Bytes, bi.Batches, bi.Schema, bi.Error = m.Reason, m.CreatedAt, m.Size(), m.Batches.Count, m.SchemaVersion, m.Error
			if m.Status == StatusVerified && !strings.HasSuffix(e.Name(), failedSuffix) {
				bi.Status = StatusVerified
			}
		}
		out = append(out, bi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name })
	return out, nil
}

// backupName is how newBackupName names a backup folder (and .failed, one that failed).
var backupName = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-(manual|scheduled|upgrade|command)(-[0-9]+)?(\.failed)?$`)

// readManifestFile reads manifest.json alone.
func readManifestFile(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// PruneBackups keeps the newest keep verified backups of dir (keep <= 0: all) and removes
// the older ones, and the failed backups older than the oldest one kept. Backups taken
// before an upgrade are never removed here: they are the way back to the release before.
// It returns the folders removed.
func PruneBackups(dir string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	bs, err := ListBackups(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	kept := 0
	oldestKept := ""
	for _, b := range bs {
		if b.Status != StatusVerified || b.Reason == ReasonUpgrade {
			continue
		}
		if kept < keep {
			kept++
			oldestKept = b.Name
			continue
		}
		if err := os.RemoveAll(b.Path); err != nil {
			return removed, fmt.Errorf("backup: remove %s: %w", b.Path, err)
		}
		removed = append(removed, b.Name)
	}
	if kept < keep {
		return removed, nil
	}
	for _, b := range bs {
		// a failed backup is removed only when its manifest says so: one whose manifest
		// cannot be read now (permissions, a full table of open files) may be a good one
		if b.Status == StatusFailed && b.Manifest != nil && b.Name < oldestKept {
			if err := os.RemoveAll(b.Path); err != nil {
				return removed, fmt.Errorf("backup: remove %s: %w", b.Path, err)
			}
			removed = append(removed, b.Name)
		}
	}
	return removed, nil
}

// SweepBackups removes what killed backups left in dir: .partial- folders no live process
// holds (each holds a lock on its folder while it writes) and staged copies without one.
func SweepBackups(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// a backup starting now makes its folder and locks it under this lock
	unlockDir, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("backup: lock %s: %w", dir, err)
	}
	defer unlockDir()
	es, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	live := map[string]bool{}
	for _, e := range es {
		name, ok := strings.CutPrefix(e.Name(), partialPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		unlock, err := tryLockDir(p)
		if err != nil {
			live[name] = true // another process is writing it
			continue
		}
		err = os.RemoveAll(p)
		unlock()
		if err != nil {
			return fmt.Errorf("backup: remove %s: %w", p, err)
		}
	}
	staged, err := os.ReadDir(StagingDir(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for _, e := range staged {
		name := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".wal"), ".duckdb")
		if live[name] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(StagingDir(dir), e.Name())); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}

// errDirLocked is a backup folder another process is writing.
var errDirLocked = errors.New("backup: folder in use")
