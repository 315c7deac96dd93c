// Package scoped builds, for a district or a school, a database of its own that holds only
// that scope's rows of the analyst tables: a separate in-memory DuckDB, locked like the
// serving one, that the scope's pages, workbooks and ad-hoc SQL run against. Whatever SQL
// reaches it, a district user's query cannot return another district's row, because no
// such row is in the database it runs on: the scope is enforced by what is copied, not by
// rewriting anyone's SQL.
//
// Every analyst table declares its rule in its own file (@scope, and @school-scope where a
// school's database differs; models/README.md). A rule this package does not know is an
// error, so a new table cannot slip into a scope unfiltered: the build fails closed.
package scoped

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"tisheng/internal/auth"
	"tisheng/internal/warehouse"
	"tisheng/models"
)

// Key identifies a scope's database: a district, or a school.
type Key struct {
	District string
	School   string
}

// KeyOf is the database a scope reads; the zero Key (everything) has none.
func KeyOf(s auth.Scope) Key {
	if s.School != "" {
		return Key{School: s.School}
	}
	return Key{District: s.District}
}

func (k Key) String() string {
	if k.School != "" {
		return "学校 " + k.School
	}
	return "区县 " + k.District
}

// DB is one scope's database.
type DB struct {
	Key     Key
	DB      *sql.DB
	Schools []string // the scope's school codes
	Value   any      // what the caller built on it (its reports), once

	conn *duckdb.Connector
	refs int
	dead bool

	// The raw tables (rule raw_ref: the loaded files' rows, most of a district's data) are
	// copied after the rest, while the pages already read the database; ad-hoc SQL waits
	// for them (Ready). raw is closed when they are in, rawErr set if they failed.
	raw    chan struct{}
	rawErr error
	stop   context.CancelFunc
}

// Ready waits until the raw tables are copied in (at once for a database built whole).
func (d *DB) Ready(ctx context.Context) error {
	if d.raw == nil {
		return nil
	}
	select {
	case <-d.raw:
		if d.rawErr != nil {
			return fmt.Errorf("scoped: %s: raw rows: %w", d.Key, d.rawErr)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes a database made by Build (a Set closes its own).
func (d *DB) Close() { d.close() }

func (d *DB) close() {
	if d.stop != nil {
		d.stop()
		<-d.raw
	}
	d.DB.Close()
	d.conn.Close()
}

// Build makes the scope's database from src.
func Build(ctx context.Context, src *sql.DB, cat *models.Catalog, k Key, memoryLimit string) (*DB, error) {
	d, err := build(ctx, src, cat, k, memoryLimit, false)
	if err != nil {
		return nil, err
	}
	if err := d.Ready(ctx); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// build makes the scope's database; lazy returns it as soon as everything but the raw
// tables is in, and copies those in the background (Ready says when).
func build(ctx context.Context, src *sql.DB, cat *models.Catalog, k Key, memoryLimit string, lazy bool) (*DB, error) {
	schools, err := scopeSchools(ctx, src, k)
	if err != nil {
		return nil, err
	}
	dsn := "?threads=1" + extraDSN(ctx, src)
	if memoryLimit != "" && memoryLimit != "none" {
		dsn += "&memory_limit=" + memoryLimit
	}
	conn, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("scoped: %w", err)
	}
	d := &DB{Key: k, DB: sql.OpenDB(conn), conn: conn, Schools: schools}
	d.DB.SetMaxIdleConns(8)
	if err := warehouse.Lock(ctx, d.DB); err != nil {
		d.close()
		return nil, fmt.Errorf("scoped: %w", err)
	}
	if err := fill(ctx, src, cat, d, lazy); err != nil {
		d.close()
		return nil, fmt.Errorf("scoped: %s: %w", k, err)
	}
	return d, nil
}

// scopeSchools: a district's schools are those any school list puts in it; a school is itself.
func scopeSchools(ctx context.Context, src *sql.DB, k Key) ([]string, error) {
	if k.School != "" {
		return []string{k.School}, nil
	}
	rows, err := src.QueryContext(ctx, `SELECT DISTINCT school_code FROM school_info WHERE district = ? ORDER BY 1`, k.District)
	if err != nil {
		return nil, fmt.Errorf("scoped: schools: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// fill copies every analyst table into d, cut to its scope, then reruns the aggregate
// models over the scope's own rows. The raw tables come last: lazily, fill returns once the
// rest is in and copies them in the background (d.Ready), since the pages and downloads
// read none of them and they are most of the rows (a district's raw_hours alone was half a
// 36-month build, DuckDB 1.1.2).
func fill(ctx context.Context, src *sql.DB, cat *models.Catalog, d *DB, lazy bool) error {
	var copies, raws []string
	rules := map[string]rule{}
	for _, t := range cat.AnalystTables() {
		r, err := ruleOf(cat, t, d.Key)
		if err != nil {
			return err
		}
		rules[t] = r
		switch r {
		case recompute:
			if _, ok := cat.Model(t); !ok {
				return fmt.Errorf("table %s: recompute rule but no model", t)
			}
		case byRawRef:
			raws = append(raws, t)
		default:
			copies = append(copies, t)
		}
	}
	srcConn, err := src.Conn(ctx)
	if err != nil {
		return err
	}
	drop, err := scopeTables(ctx, srcConn, d.Key)
	if err != nil {
		srcConn.Close()
		return err
	}
	dstConn, err := d.DB.Conn(ctx)
	if err != nil {
		drop()
		srcConn.Close()
		return err
	}
	done := func() {
		drop()
		dstConn.Close()
		srcConn.Close()
	}
	handed := false // to the background copy of the raw tables, which then closes all
	defer func() {
		if !handed {
			done()
		}
	}()
	srcAr, err := arrowOf(srcConn)
	if err != nil {
		return err
	}
	dstAr, err := arrowOf(dstConn)
	if err != nil {
		return err
	}
	for _, t := range copies {
		src, err := source(cat, t, rules[t], d.Key)
		if err != nil {
			return err
		}
		if err := copyTable(ctx, srcConn, dstConn, srcAr, dstAr, t, src, chunkRows); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	// The raw tables, empty for now, and the scope's rows of each file counted on the
	// source: a file can hold several districts' rows (a city's school list, a shared
	// export), and its counts are cut to the scope too, or they would tell a district
	// another's headcount.
	rawSQL := map[string]string{}
	if _, err := dstConn.ExecContext(ctx, `CREATE TEMP TABLE __scope_accepted (batch_id BIGINT, n BIGINT)`); err != nil {
		return err
	}
	for _, t := range raws {
		if rawSQL[t], err = source(cat, t, rules[t], d.Key); err != nil {
			return err
		}
		if err := createLike(ctx, srcConn, dstConn, t); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
		rows, err := srcConn.QueryContext(ctx, "SELECT batch_id, count(*) FROM ("+rawSQL[t]+") GROUP BY batch_id")
		if err != nil {
			return fmt.Errorf("count %s: %w", t, err)
		}
		var vals []string
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			vals = append(vals, fmt.Sprintf("(%d, %d)", id, n))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for len(vals) > 0 {
			n := min(len(vals), 1000)
			if _, err := dstConn.ExecContext(ctx, "INSERT INTO __scope_accepted VALUES "+strings.Join(vals[:n], ", ")); err != nil {
				return err
			}
			vals = vals[n:]
		}
	}
	if _, err := dstConn.ExecContext(ctx, `WITH acc AS (
			SELECT batch_id, sum(n) AS n FROM (SELECT batch_id, n FROM __scope_accepted
				UNION ALL SELECT batch_id, count(*) FROM raw_schools GROUP BY batch_id) GROUP BY batch_id),
		rej AS (SELECT batch_id, count(*) AS n FROM rejects GROUP BY batch_id)
		UPDATE batches SET accepted = coalesce((SELECT n FROM acc WHERE acc.batch_id = batches.batch_id), 0),
			rejected = coalesce((SELECT n FROM rej WHERE rej.batch_id = batches.batch_id), 0),
			rows_total = coalesce((SELECT n FROM acc WHERE acc.batch_id = batches.batch_id), 0)
			           + coalesce((SELECT n FROM rej WHERE rej.batch_id = batches.batch_id), 0)
		WHERE kind <> 'catalogue'`); err != nil {
		return fmt.Errorf("scope counts: %w", err)
	}
	if _, err := dstConn.ExecContext(ctx, `DROP TABLE __scope_accepted`); err != nil {
		return err
	}
	// in the models' order: a rerun may read another's rerun
	for _, m := range cat.Models {
		if rules[m.Name] != recompute {
			continue
		}
		if _, err := dstConn.ExecContext(ctx, "CREATE TABLE "+ident(m.Name)+" AS "+m.SQL); err != nil {
			return fmt.Errorf("rerun %s: %w", m.Name, err)
		}
	}
	copyRaw := func(ctx context.Context) error {
		for _, t := range raws {
			if err := copyRows(ctx, srcConn, dstConn, srcAr, dstAr, t, rawSQL[t], chunkRows); err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
		}
		return nil
	}
	if !lazy {
		return copyRaw(ctx)
	}
	bg, stop := context.WithCancel(context.Background())
	d.raw, d.stop, handed = make(chan struct{}), stop, true
	go func() {
		defer close(d.raw)
		defer done()
		d.rawErr = copyRaw(bg)
	}()
	return nil
}
