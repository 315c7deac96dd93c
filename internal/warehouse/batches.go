package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Batch is one loaded file as the batches table records it.
type Batch struct {
	ID       int64     `json:"batch_id"`
	FileName string    `json:"file_name"`
	Kind     string    `json:"kind"`
	AsOf     string    `json:"as_of"` // YYYY-MM-DD, empty for catalogues
	School   string    `json:"school_scope,omitempty"`
	Rows     int64     `json:"rows_total"`
	Accepted int64     `json:"accepted"`
	Rejected int64     `json:"rejected"`
	LoadedAt time.Time `json:"loaded_at"`
	Status   string    `json:"status"`
}

// Batches lists the loaded files, oldest first.
func (w *Warehouse) Batches(ctx context.Context) ([]Batch, error) {
	rows, err := w.DB.QueryContext(ctx, `SELECT batch_id, file_name, kind, coalesce(strftime(as_of, '%Y-%m-%d'), ''),
		coalesce(school_scope, ''), rows_total, accepted, rejected, loaded_at, status FROM batches ORDER BY batch_id`)
	if err != nil {
		return nil, fmt.Errorf("batches: %w", err)
	}
	defer rows.Close()
	var bs []Batch
	for rows.Next() {
		var b Batch
		if err := rows.Scan(&b.ID, &b.FileName, &b.Kind, &b.AsOf, &b.School, &b.Rows, &b.Accepted, &b.Rejected, &b.LoadedAt, &b.Status); err != nil {
			return nil, fmt.Errorf("batches: %w", err)
		}
		bs = append(bs, b)
	}
	return bs, rows.Err()
}

// NoBatchError names batches asked for that do not exist.
type NoBatchError struct{ IDs []int64 }

func (e *NoBatchError) Error() string {
	ids := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		ids[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("没有编号为 %s 的批次（tisheng batch list 列出已导入的批次）", strings.Join(ids, "、"))
}

// Removal is one batch taken back.
type Removal struct {
	Batch
	RowsRemoved int64 `json:"rows_removed"`
}

// RemoveBatches takes loaded files back: their rows in every raw_* table, their rejects,
// their catalogue entries and their batches rows go in one transaction, recorded in
// batch_removals with who did it. If any id does not exist, nothing is removed. The models
// are then stale until the next refresh (models.Outdated says so).
func (w *Warehouse) RemoveBatches(ctx context.Context, who string, ids []int64) ([]Removal, error) {
	if len(ids) == 0 {
		return nil, errors.New("remove batches: no batch given")
	}
	if strings.TrimSpace(who) == "" {
		return nil, errors.New("remove batches: who is removing them must be recorded")
	}
	var out []Removal
	err := w.Tx(ctx, func(conn *sql.Conn) error {
		tables, err := batchTables(ctx, conn)
		if err != nil {
			return err
		}
		var missing []int64
		seen := map[int64]bool{}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			var b Batch
			err := conn.QueryRowContext(ctx, `SELECT batch_id, file_name, kind, coalesce(strftime(as_of, '%Y-%m-%d'), ''),
				coalesce(school_scope, ''), rows_total, accepted, rejected, loaded_at, status FROM batches WHERE batch_id = ?`, id).
				Scan(&b.ID, &b.FileName, &b.Kind, &b.AsOf, &b.School, &b.Rows, &b.Accepted, &b.Rejected, &b.LoadedAt, &b.Status)
			if errors.Is(err, sql.ErrNoRows) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return err
			}
			r := Removal{Batch: b}
			for _, t := range tables {
				res, err := conn.ExecContext(ctx, `DELETE FROM `+t+` WHERE batch_id = ?`, id)
				if err != nil {
					return fmt.Errorf("%s: %w", t, err)
				}
				n, _ := res.RowsAffected()
				r.RowsRemoved += n
			}
			if _, err := conn.ExecContext(ctx, `INSERT INTO batch_removals
				SELECT batch_id, file_name, sha256, kind, as_of, loaded_at, ?, ?, current_timestamp::TIMESTAMP
				FROM batches WHERE batch_id = ?`, r.RowsRemoved, who, id); err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, `DELETE FROM batches WHERE batch_id = ?`, id); err != nil {
				return err
			}
			out = append(out, r)
		}
		if len(missing) > 0 {
			return &NoBatchError{IDs: missing}
		}
		return nil
	})
	if err != nil {
		var nb *NoBatchError
		if errors.As(err, &nb) {
			return nil, nb
		}
		return nil, fmt.Errorf("remove batches: %w", err)
	}
	return out, nil
}

// batchTables are the tables whose rows belong to a batch: every raw_* table (so that a
// kind added by a later migration is covered), rejects and abilities. Model tables are not
// among them: the refresh after a removal rebuilds them.
func batchTables(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT DISTINCT table_name FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = 'main' AND column_name = 'batch_id'
		  AND (starts_with(table_name, 'raw_') OR table_name IN ('rejects', 'abilities'))
		ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ts []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		ts = append(ts, `"`+t+`"`)
	}
	return ts, rows.Err()
}

// SchoolList is what the loaded school lists (学校信息) name: their districts and school
// codes. Both are empty before any school list is loaded.
type SchoolList struct {
	Districts map[string]bool
	Schools   map[string]bool
}

// SchoolLists reads the districts and school codes of every school list loaded.
func (w *Warehouse) SchoolLists(ctx context.Context) (SchoolList, error) {
	l := SchoolList{Districts: map[string]bool{}, Schools: map[string]bool{}}
	rows, err := w.DB.QueryContext(ctx, `SELECT DISTINCT school_code, district FROM raw_schools`)
	if err != nil {
		return l, fmt.Errorf("school list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, district sql.NullString
		if err := rows.Scan(&code, &district); err != nil {
			return l, fmt.Errorf("school list: %w", err)
		}
		if code.Valid {
			l.Schools[code.String] = true
		}
		if district.Valid {
			l.Districts[district.String] = true
		}
	}
	return l, rows.Err()
}
