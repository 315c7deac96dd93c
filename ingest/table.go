package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"

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

// tableWriter gathers rows for one table in batches and hands them to the inserter, which
// appends them through the driver's Appender on the load's connection, inside its
// transaction. The columns are read from the table itself, so a row's values are the
// table's columns, in order, by construction.
//
// On DuckDB 1.1.2 the rows went in as Arrow record batches through a registered view
// (INSERT … SELECT * FROM view). DuckDB 2.0.0 creates that view as a catalog entry that a
// file database cannot commit ("Cannot serialize a table function with process-local bind
// input"), so the Appender, which writes into the table directly, took its place; on 1.5.6,
// which tisheng runs on, it loads as fast as the view did on 1.1.2 (make bench: 1M hours rows
// in 0.83x the time in UTF-8 CSV, 1.01x in GBK, 200k in XLSX 1.05x; medians of 3 runs on a
// busy machine).
type tableWriter struct {
	table   string
	kinds   []colKind
	cols    map[string]int
	rows    []val // the batch being built, row after row
	n       int
	maxRows int
	ins     *inserter
	free    chan []val // spent batches, reused
	app     *duckdb.Appender
	args    []driver.Value
	decs    []big.Int // one per column: the Appender reads them when the row is appended
}

// colKind is how a column's values go to the Appender.
type colKind int

const (
	colBigint colKind = iota
	colInteger
	colVarchar
	colBoolean
	colDate
	colDecimal
)

// inserter appends finished batches on its own goroutine, so that parsing the next batch
// overlaps appending this one. Its queue is short: at most a few batches are in memory at
// once, whatever the file's size.
type inserter struct {
	conn *sql.Conn
	mu   *sync.Mutex // held for every use of conn while the inserter runs
	ch   chan insertJob
	done chan struct{}
	once sync.Once
	err  error
	ferr atomic.Bool
	ws   []*tableWriter
}

type insertJob struct {
	w    *tableWriter
	rows []val
	n    int
}

func newInserter(ctx context.Context, conn *sql.Conn, mu *sync.Mutex) *inserter {
	ins := &inserter{conn: conn, mu: mu, ch: make(chan insertJob, 1), done: make(chan struct{})}
	go func() {
		defer close(ins.done)
		for job := range ins.ch {
			if !ins.ferr.Load() {
				ins.mu.Lock()
				err := job.w.insert(ctx, ins.conn, job.rows, job.n)
				ins.mu.Unlock()
				if err != nil {
					ins.err = err
					ins.ferr.Store(true)
				}
			}
			select {
			case job.w.free <- job.rows:
			default:
			}
		}
		// Closing an Appender flushes what it holds into the table.
		ins.mu.Lock()
		defer ins.mu.Unlock()
		for _, w := range ins.ws {
			if w.app == nil {
				continue
			}
			if err := w.app.Close(); err != nil && ins.err == nil {
				ins.err = fmt.Errorf("append %s: %w", w.table, err)
			}
			w.app = nil
		}
	}()
	return ins
}

func (ins *inserter) submit(ctx context.Context, w *tableWriter, rows []val, n int) error {
	if ins.ferr.Load() {
		return errors.New("insert failed")
	}
	select {
	case ins.ch <- insertJob{w: w, rows: rows, n: n}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wait stops the inserter after the queued batches, flushes every table's Appender and
// returns the first error.
func (ins *inserter) wait() error {
	ins.once.Do(func() { close(ins.ch) })
	<-ins.done
	return ins.err
}

func newTableWriter(ctx context.Context, conn *sql.Conn, ins *inserter, table string, maxRows int) (*tableWriter, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", table, err)
	}
	defer rows.Close()
	var kinds []colKind
	cols := map[string]int{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		var k colKind
		switch typ {
		case "BIGINT":
			k = colBigint
		case "INTEGER":
			k = colInteger
		case "VARCHAR":
			k = colVarchar
		case "BOOLEAN":
			k = colBoolean
		case "DATE":
			k = colDate
		case "DECIMAL(9,2)":
			k = colDecimal
		default:
			return nil, fmt.Errorf("table %s: column %s has type %s, which ingest does not write", table, name, typ)
		}
		cols[name] = len(kinds)
		kinds = append(kinds, k)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("table %s: not found", table)
	}
	w := &tableWriter{table: table, kinds: kinds, cols: cols, maxRows: maxRows, ins: ins,
		free: make(chan []val, 2), args: make([]driver.Value, len(kinds)), decs: make([]big.Int, len(kinds))}
	w.rows = make([]val, len(kinds)*maxRows)
	ins.ws = append(ins.ws, w)
	return w, nil
}

// col is the index of a column; a missing one is a programming error caught by every test.
func (w *tableWriter) col(name string) int {
	i, ok := w.cols[name]
	if !ok {
		panic(fmt.Sprintf("table %s has no column %s", w.table, name))
	}
	return i
}

func (w *tableWriter) width() int { return len(w.kinds) }

// append adds one row (one val per column) and flushes a full batch.
func (w *tableWriter) append(ctx context.Context, row []val) error {
	copy(w.rows[w.n*len(w.kinds):], row)
	w.n++
	if w.n >= w.maxRows {
		return w.flush(ctx)
	}
	return nil
}

// flush hands the built rows to the inserter and starts the next batch.
func (w *tableWriter) flush(ctx context.Context) error {
	if w.n == 0 {
		return nil
	}
	rows, n := w.rows, w.n
	select {
	case w.rows = <-w.free:
	default:
		w.rows = make([]val, len(w.kinds)*w.maxRows)
	}
	w.n = 0
	return w.ins.submit(ctx, w, rows, n)
}

// insert appends n rows of a batch to the table, on the inserter's goroutine.
func (w *tableWriter) insert(ctx context.Context, conn *sql.Conn, rows []val, n int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.app == nil {
		err := warehouse.Raw(conn, func(dc driver.Conn) error {
			var err error
			w.app, err = duckdb.NewAppenderFromConn(dc, "", w.table)
			return err
		})
		if err != nil {
			return fmt.Errorf("appender for %s: %w", w.table, err)
		}
	}
	width := len(w.kinds)
	for r := 0; r < n; r++ {
		row := rows[r*width : (r+1)*width]
		for i, v := range row {
			if !v.ok {
				w.args[i] = nil
				continue
			}
			switch w.kinds[i] {
			case colBigint:
				w.args[i] = v.i
			case colInteger:
				w.args[i] = int32(v.i)
			case colVarchar:
				w.args[i] = v.s
			case colBoolean:
				w.args[i] = v.i != 0
			case colDate:
				w.args[i] = time.Unix(v.i*86400, 0).UTC()
			case colDecimal:
				w.decs[i].SetInt64(v.i)
				w.args[i] = duckdb.Decimal{Width: 9, Scale: 2, Value: &w.decs[i]}
			}
		}
		if err := w.app.AppendRow(w.args...); err != nil {
			return fmt.Errorf("insert %s: %w", w.table, err)
		}
	}
	clear(rows[:n*width]) // a reused batch keeps no string of these rows alive
	return nil
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
