package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/marcboeker/go-duckdb"

	"tisheng/internal/warehouse"
)

// val is one column value of a row being built; ok=false is NULL.
type val struct {
	s  string
	i  int64
	ok bool
}

func sv(s string) val            { return val{s: s, ok: true} }
func svOpt(s string) val         { return val{s: s, ok: s != ""} }
func iv(i int64) val             { return val{i: i, ok: true} }
func ivOpt(i int64, ok bool) val { return val{i: i, ok: ok} }
func bv(b bool) val              { return val{i: b2i(b), ok: true} }
func bvOpt(b bool, ok bool) val  { return val{i: b2i(b), ok: ok} }
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// tableWriter builds Arrow record batches for one table and moves them into DuckDB. Its
// schema is read from the table itself, so the batch's columns are the table's, in order:
// DuckDB 1.1's Arrow scan must be read whole (`INSERT … SELECT *`), never projected
// (STACK.md), and this keeps that statement right by construction.
type tableWriter struct {
	table   string
	schema  *arrow.Schema
	cols    map[string]int
	b       *array.RecordBuilder
	rows    int
	maxRows int
	ins     *inserter
	ar      *duckdb.Arrow
	view    string
}

// inserter moves finished record batches into DuckDB on its own goroutine, so that parsing
// the next batch overlaps inserting this one. Its queue is short: at most a few batches are
// in memory at once, whatever the file's size.
type inserter struct {
	conn *sql.Conn
	mu   *sync.Mutex // held for every use of conn while the inserter runs
	ch   chan insertJob
	done chan struct{}
	once sync.Once
	err  error
	ferr atomic.Bool
}

type insertJob struct {
	w   *tableWriter
	rec arrow.Record
}

func newInserter(ctx context.Context, conn *sql.Conn, mu *sync.Mutex) *inserter {
	ins := &inserter{conn: conn, mu: mu, ch: make(chan insertJob, 1), done: make(chan struct{})}
	go func() {
		defer close(ins.done)
		for job := range ins.ch {
			if ins.ferr.Load() {
				job.rec.Release()
				continue
			}
			ins.mu.Lock()
			err := job.w.insert(ctx, ins.conn, job.rec)
			ins.mu.Unlock()
			if err != nil {
				ins.err = err
				ins.ferr.Store(true)
			}
		}
	}()
	return ins
}

func (ins *inserter) submit(ctx context.Context, w *tableWriter, rec arrow.Record) error {
	if ins.ferr.Load() {
		rec.Release()
		return errors.New("insert failed")
	}
	select {
	case ins.ch <- insertJob{w: w, rec: rec}:
		return nil
	case <-ctx.Done():
		rec.Release()
		return ctx.Err()
	}
}

// wait stops the inserter after the queued batches and returns the first error.
func (ins *inserter) wait() error {
	ins.once.Do(func() { close(ins.ch) })
	<-ins.done
	return ins.err
}

func newTableWriter(ctx context.Context, conn *sql.Conn, ar *duckdb.Arrow, ins *inserter, table string, maxRows int) (*tableWriter, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	defer rows.Close()
	var fields []arrow.Field
	cols := map[string]int{}
	for rows.Next() {
		var name, typ, nullable string
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			return nil, err
		}
		var t arrow.DataType
		switch {
		case typ == "BIGINT":
			t = arrow.PrimitiveTypes.Int64
		case typ == "INTEGER":
			t = arrow.PrimitiveTypes.Int32
		case typ == "VARCHAR":
			t = arrow.BinaryTypes.String
		case typ == "BOOLEAN":
			t = arrow.FixedWidthTypes.Boolean
		case typ == "DATE":
			t = arrow.FixedWidthTypes.Date32
		case typ == "DECIMAL(9,2)":
			t = &arrow.Decimal128Type{Precision: 9, Scale: 2}
		default:
			return nil, fmt.Errorf("table %s: column %s has type %s, which ingest does not write", table, name, typ)
		}
		cols[name] = len(fields)
		fields = append(fields, arrow.Field{Name: name, Type: t, Nullable: nullable == "YES"})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("table %s: not found", table)
	}
	sc := arrow.NewSchema(fields, nil)
	return &tableWriter{
		table: table, schema: sc, cols: cols, maxRows: maxRows, ins: ins, ar: ar,
		b:    array.NewRecordBuilder(memory.DefaultAllocator, sc),
		view: "ingest_" + table,
	}, nil
}

// col is the index of a column; a missing one is a programming error caught by every test.
func (w *tableWriter) col(name string) int {
	i, ok := w.cols[name]
	if !ok {
		panic(fmt.Sprintf("table %s has no column %s", w.table, name))
	}
	return i
}

func (w *tableWriter) width() int { return len(w.schema.Fields()) }

// append adds one row (one val per column) and flushes a full batch.
func (w *tableWriter) append(ctx context.Context, row []val) error {
	for i, v := range row {
		fb := w.b.Field(i)
		if !v.ok {
			fb.AppendNull()
			continue
		}
		switch b := fb.(type) {
		case *array.Int64Builder:
			b.Append(v.i)
		case *array.Int32Builder:
			b.Append(int32(v.i))
		case *array.StringBuilder:
			b.Append(v.s)
		case *array.BooleanBuilder:
			b.Append(v.i != 0)
		case *array.Date32Builder:
			b.Append(arrow.Date32(v.i))
		case *array.Decimal128Builder:
			b.Append(decimal128.FromI64(v.i))
		}
	}
	w.rows++
	if w.rows >= w.maxRows {
		return w.flush(ctx)
	}
	return nil
}

// flush hands the built rows to the inserter.
func (w *tableWriter) flush(ctx context.Context) error {
	if w.rows == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	w.rows = 0
	return w.ins.submit(ctx, w, rec)
}

// onceReader hands DuckDB one record and lets go of it as soon as DuckDB has read past it.
// go-duckdb's RegisterView release frees only the C stream struct and never calls the
// stream's release callback, so the exported reader stays referenced for good: a reader
// that kept its record would keep every batch of a file in memory (measured: ~200 MB of
// Go heap for a 1M-row export).
type onceReader struct {
	schema *arrow.Schema
	rec    arrow.Record
	state  int
}

func (r *onceReader) Schema() *arrow.Schema { return r.schema }
func (r *onceReader) Record() arrow.Record  { return r.rec }
func (r *onceReader) Err() error            { return nil }
func (r *onceReader) Retain()               {}
func (r *onceReader) Release()              {}

func (r *onceReader) Next() bool {
	if r.state == 0 {
		r.state = 1
		return true
	}
	r.finish()
	return false
}

// finish drops the record; the arrays DuckDB imported hold their own references.
func (r *onceReader) finish() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	r.state = 2
}

// insert moves one record batch into the table through a one-off Arrow view; it owns rec.
func (w *tableWriter) insert(ctx context.Context, conn *sql.Conn, rec arrow.Record) error {
	rdr := &onceReader{schema: w.schema, rec: rec}
	defer rdr.finish()
	release, err := w.ar.RegisterView(rdr, w.view)
	if err != nil {
		return fmt.Errorf("arrow view for %s: %w", w.table, err)
	}
	defer release()
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+w.table+" SELECT * FROM "+w.view); err != nil {
		return fmt.Errorf("insert %s: %w", w.table, err)
	}
	_, err = conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+w.view)
	return err
}

func (w *tableWriter) release() { w.b.Release() }

// arrowFor gets the Arrow API of a transaction's connection.
func arrowFor(conn *sql.Conn) (*duckdb.Arrow, error) {
	var ar *duckdb.Arrow
	err := warehouse.Raw(conn, func(dc driver.Conn) error {
		var err error
		ar, err = duckdb.NewArrowFromConn(dc)
		return err
	})
	return ar, err
}

// quoteJSON writes s as a JSON string.
func quoteJSON(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
