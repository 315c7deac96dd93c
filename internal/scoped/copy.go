package scoped

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"
)

func arrowOf(conn *sql.Conn) (*duckdb.Arrow, error) {
	var ar *duckdb.Arrow
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("unexpected driver connection")
		}
		var err error
		ar, err = duckdb.NewArrowFromConn(c)
		return err
	})
	return ar, err
}

type column struct{ name, typ string }

func columnsOf(ctx context.Context, conn *sql.Conn, t string) ([]column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, t)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 && rows.Err() == nil {
		return nil, fmt.Errorf("table %s not found", t)
	}
	return cs, rows.Err()
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// copyTable creates t in the destination with the source's exact column types, then moves
// the scope's rows through Arrow in chunks (per batch for raw tables, per month for monthly
// ones) so that no chunk holds a whole large table.
func copyTable(ctx context.Context, srcConn, dstConn *sql.Conn, srcAr, dstAr *duckdb.Arrow, t, src string, chunkRows int64) error {
	if err := createLike(ctx, srcConn, dstConn, t); err != nil {
		return err
	}
	return copyRows(ctx, srcConn, dstConn, srcAr, dstAr, t, src, chunkRows)
}

// createLike creates t in the destination, empty, with the source's exact column types.
func createLike(ctx context.Context, srcConn, dstConn *sql.Conn, t string) error {
	cols, err := columnsOf(ctx, srcConn, t)
	if err != nil {
		return err
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = ident(c.name) + " " + c.typ
	}
	_, err = dstConn.ExecContext(ctx, "CREATE TABLE "+ident(t)+" ("+strings.Join(defs, ", ")+")")
	return err
}

// copyRows moves the scope's rows of t (the SELECT src) into its table in the destination.
func copyRows(ctx context.Context, srcConn, dstConn *sql.Conn, srcAr, dstAr *duckdb.Arrow, t, src string, chunkRows int64) error {
	cols, err := columnsOf(ctx, srcConn, t)
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, c := range cols {
		has[c.name] = true
	}
	// the scope's rows, narrowed by key below: DuckDB pushes the key's range down into the
	// table's scan through the joins, so each chunk reads only its row groups
	base := "SELECT * FROM (" + src + ") AS __s WHERE true"
	var chunks []string
	for _, key := range []string{"batch_id", "month"} {
		if !has[key] || t == "batches" {
			continue
		}
		// the scope's rows per key, in the key's own order, gathered into runs of about
		// chunkRows rows: one query per run, not per batch or month (at 36 months, 1,442
		// batches made 1,442 queries, 18 s for a district on DuckDB 1.1.2)
		rows, err := srcConn.QueryContext(ctx, "SELECT "+key+"::VARCHAR, count(*) FROM ("+src+") AS __s GROUP BY "+key+" ORDER BY "+key+" NULLS LAST")
		if err != nil {
			return err
		}
		type run struct {
			lo, hi string
			n      int64
		}
		var runs []run
		nulls := false
		for rows.Next() {
			var v sql.NullString
			var n int64
			if err := rows.Scan(&v, &n); err != nil {
				rows.Close()
				return err
			}
			if !v.Valid {
				nulls = true
				continue
			}
			if key == "batch_id" {
				if _, err := strconv.ParseInt(v.String, 10, 64); err != nil {
					rows.Close()
					return fmt.Errorf("batch id %q", v.String)
				}
			}
			if k := len(runs); k > 0 && runs[k-1].n+n <= chunkRows {
				runs[k-1].hi, runs[k-1].n = v.String, runs[k-1].n+n
				continue
			}
			runs = append(runs, run{v.String, v.String, n})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(runs) > 1 || (len(runs) == 1 && nulls) {
			for _, r := range runs {
				// compared in the column's own type, so that DuckDB skips the row groups of
				// other batches and months (a cast would read the whole table per chunk)
				lo, hi := quote(r.lo), quote(r.hi)
				if key == "batch_id" {
					lo, hi = r.lo, r.hi
				}
				chunks = append(chunks, base+" AND "+key+" BETWEEN "+lo+" AND "+hi)
			}
			if nulls {
				chunks = append(chunks, base+" AND "+key+" IS NULL")
			}
		}
		break
	}
	if chunks == nil {
		chunks = []string{base}
	}
	for _, q := range chunks {
		rdr, err := srcAr.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		err = load(ctx, dstConn, dstAr, t, rdr)
		rdr.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// chunkRows is about how many rows one copy moves through Arrow at a time (a key with more
// rows moves alone).
const chunkRows = 250_000

// load inserts one Arrow result into the destination table through a one-off view. The
// view's release hands the reader back (duckdb-go v2 calls the stream's release, which
// go-duckdb never did); DuckDB releases each record once it has moved past it.
func load(ctx context.Context, conn *sql.Conn, ar *duckdb.Arrow, t string, rdr array.RecordReader) error {
	view := "scoped_copy_" + t
	release, err := ar.RegisterView(rdr, view)
	if err != nil {
		return err
	}
	defer release()
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+ident(t)+" SELECT * FROM "+view); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+view)
	return err
}
