package warehouse_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tisheng/internal/warehouse"
)

// TestBackupHelperProcess is the process TestKilledBackupLooksIncomplete kills: a backup
// that says each step on stdout and, at the step asked for, waits to be killed.
func TestBackupHelperProcess(t *testing.T) {
	if os.Getenv("TISHENG_BACKUP_HELPER") != "1" {
		t.Skip("run by TestKilledBackupLooksIncomplete")
	}
	stop := os.Getenv("TISHENG_BACKUP_STOP")
	warehouse.SetBackupHook(func(step string) {
		fmt.Printf("step %s\n", step)
		if step == stop {
			time.Sleep(time.Hour)
		}
	})
	ctx := context.Background()
	wh, err := warehouse.Open(ctx, os.Getenv("TISHENG_BACKUP_DB"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	if _, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: os.Getenv("TISHENG_BACKUP_DIR"), Key: demoKey}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("done")
	os.Exit(0)
}

// TestKilledBackupLooksIncomplete kills a backup (kill -9) at each of its steps, and once
// while DuckDB copies the rows: no folder that looks like a backup is left, nothing left
// can be restored from, and the next backup clears what the killed one left and succeeds.
func TestKilledBackupLooksIncomplete(t *testing.T) {
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	wh.Close()
	db := filepath.Join(dir, "w.duckdb")
	backups := filepath.Join(dir, "backups")
	for _, stop := range []string{"attached", "snapshot", "copying", "copied", "written", "manifest", "while copying"} {
		t.Run(stop, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBackupHelperProcess$", "-test.v")
			cmd.Env = append(os.Environ(), "TISHENG_BACKUP_HELPER=1", "TISHENG_BACKUP_STOP="+stop,
				"TISHENG_BACKUP_DB="+db, "TISHENG_BACKUP_DIR="+backups)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			reached := false
			for sc.Scan() {
				line := sc.Text()
				if line == "step "+stop || (stop == "while copying" && line == "step copying") {
					reached = true
					if stop == "while copying" {
						time.Sleep(20 * time.Millisecond) // inside DuckDB's copy of the next tables
					}
					break
				}
				if strings.HasPrefix(line, "error") || line == "done" {
					t.Fatalf("the backup ended before %s: %s", stop, line)
				}
			}
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if !reached {
				t.Fatalf("never reached %s", stop)
			}
			bs, err := warehouse.ListBackups(backups)
			if err != nil {
				t.Fatal(err)
			}
			if len(bs) != 0 {
				t.Fatalf("killed at %s, a folder looks like a backup: %+v", stop, bs)
			}
			es, _ := os.ReadDir(backups)
			for _, e := range es {
				if !strings.HasPrefix(e.Name(), ".") {
					t.Errorf("killed at %s: %s left, not hidden", stop, e.Name())
				}
				if e.IsDir() && e.Name() != ".staging" {
					if _, err := warehouse.Restore(context.Background(), filepath.Join(backups, e.Name()), filepath.Join(dir, "r.duckdb"), time.Now()); err == nil {
						t.Errorf("killed at %s: restored from %s", stop, e.Name())
					}
				}
			}
		})
	}
	// the next backup sweeps what the killed ones left
	wh, err := warehouse.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	b, err := wh.Backup(context.Background(), warehouse.BackupOptions{Dir: backups, Key: demoKey})
	if err != nil {
		t.Fatal(err)
	}
	es, _ := os.ReadDir(backups)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != ".lock .staging "+filepath.Base(b.Path) {
		t.Errorf("after the next backup: %v", names)
	}
	if st, _ := os.ReadDir(warehouse.StagingDir(backups)); len(st) != 0 {
		t.Errorf("staging keeps %d files", len(st))
	}
}
