package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Outdated reports whether the models are older than the batches: a file loaded, or one
// taken back, since the last refresh swapped its tables in (models_built, migration 004,
// records the batches as they stood then). A warehouse whose models were never recorded
// (never refreshed, or refreshed before migration 004) counts as outdated. A server killed
// after a load committed and before its refresh finished leaves exactly this state.
func Outdated(ctx context.Context, db *sql.DB) (bool, error) {
	var builtHigh, builtCount int64
	err := db.QueryRowContext(ctx, `SELECT batch_high, batch_count FROM models_built`).Scan(&builtHigh, &builtCount)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("outdated: %w", err)
	}
	high, count, err := batchState(ctx, db)
	if err != nil {
		return false, fmt.Errorf("outdated: %w", err)
	}
	return high != builtHigh || count != builtCount, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// batchState is the highest batch id and the number of batches. Batch ids come from a
// sequence and are never reused, so a load changes the first and a removal the second.
func batchState(ctx context.Context, db queryRower) (high, count int64, err error) {
	err = db.QueryRowContext(ctx, `SELECT coalesce(max(batch_id), 0), count(*) FROM batches`).Scan(&high, &count)
	return high, count, err
}

// recordBuilt notes, inside the transaction that swaps the models in, the batches they were
// built from.
func recordBuilt(ctx context.Context, conn *sql.Conn) error {
	high, count, err := batchState(ctx, conn)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM models_built`); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `INSERT INTO models_built VALUES (?, ?, current_timestamp::TIMESTAMP)`, high, count)
	return err
}
