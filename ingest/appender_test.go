package ingest

import (
	"strings"
	"testing"
)

// Rows go to the table through the driver's Appender batch by batch while the file is still
// being read; a file that fails after batches went in leaves nothing (the load is one
// transaction), and one that loads keeps every row of every batch, the last one partial.
func TestAppendedBatchesAllOrNothing(t *testing.T) {
	f := newFixture(t)
	f.l.batchRows = 2
	f.l.limits.KeyedRows = 5
	body := schoolHeaderCSV + "1,a,东湖区\n2,b,东湖区\n3,c,东湖区\n4,d,东湖区\n5,e,东湖区\n6,f,东湖区\n"
	r := f.load(f.write("six_2025-06-30.csv", body, "utf-8"), Options{})
	if r.Status != StatusFailed || !strings.Contains(r.Error, "第7行：数据行超过 5 行的上限") {
		t.Fatalf("%+v", r)
	}
	f.nothingWritten()

	f.l.limits = DefaultLimits()
	r = f.load(f.write("six_2025-06-30.csv", body+"7,g,西山区\n", "utf-8"), Options{})
	if r.Status != StatusLoaded || r.Accepted != 7 {
		t.Fatalf("%+v", r)
	}
	got := f.rows(`SELECT string_agg(school_code || school_name || district, ',' ORDER BY row_no) FROM raw_schools`)
	if want := "1a东湖区,2b东湖区,3c东湖区,4d东湖区,5e东湖区,6f东湖区,7g西山区"; len(got) != 1 || got[0] != want {
		t.Fatalf("raw_schools: %v, want %s", got, want)
	}
}
