package warehouse_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"tisheng/internal/testkit"
	"tisheng/internal/warehouse"
)

// TestBackupWhileReadersScanTheCatalog: readers on other connections, listing tables and
// columns and reading rows as pages and scope builds do, hold on to the attached copy for
// a moment; every backup taken meanwhile still ends with its copy whole in one file and
// verified.
func TestBackupWhileReadersScanTheCatalog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	wh := demo(t, dir, "w.duckdb")
	want := testkit.Figures(t, wh.DB)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qs := []string{
				`SELECT count(*) FROM information_schema.columns`,
				`SELECT count(*) FROM duckdb_tables()`,
				`SELECT count(*) FROM teacher_progress`,
				`SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database()`,
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var c int
				if err := wh.DB.QueryRowContext(ctx, qs[(n+i)%len(qs)]).Scan(&c); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 6 {
		b, err := wh.Backup(ctx, warehouse.BackupOptions{Dir: filepath.Join(dir, "backups"), Key: demoKey, Reason: warehouse.ReasonCommand})
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("backup %d: %v", i, err)
		}
		if i == 0 {
			r := openRO(t, filepath.Join(b.Path, "w.duckdb"))
			testkit.SameFigures(t, "the backup", testkit.Figures(t, r.DB), want)
			r.Close()
		}
	}
	close(stop)
	wg.Wait()
}
