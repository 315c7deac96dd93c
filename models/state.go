package models

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// inputs is what the models are built from, as recorded after a refresh.
type inputs struct {
	schema     int
	modelsHash string
	params     string
	catalogues string
	batches    map[int64]batchRef
}

type batchRef struct {
	sha  string
	asOf sql.NullTime
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// currentInputs reads what is loaded now; params is the profile about to be applied.
func (c *Catalog) currentInputs(ctx context.Context, q querier, params string) (inputs, error) {
	in := inputs{params: params, batches: map[int64]batchRef{}, modelsHash: c.hash}
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&in.schema); err != nil {
		return in, err
	}
	if err := q.QueryRowContext(ctx, `SELECT coalesce(list_sort(list(DISTINCT batch_id))::VARCHAR, '') FROM abilities`).Scan(&in.catalogues); err != nil {
		return in, err
	}
	return in, readBatches(ctx, q, `SELECT batch_id, sha256, as_of FROM batches`, in.batches)
}

func readBatches(ctx context.Context, q querier, query string, into map[int64]batchRef) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var b batchRef
		if err := rows.Scan(&id, &b.sha, &b.asOf); err != nil {
			return err
		}
		into[id] = b
	}
	return rows.Err()
}

// recordedInputs reads what the models were last built from; ok is false if never recorded.
func recordedInputs(ctx context.Context, q querier) (in inputs, ok bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT schema_version, models_hash, profile_params, catalogues FROM refresh_state`).
		Scan(&in.schema, &in.modelsHash, &in.params, &in.catalogues)
	if errors.Is(err, sql.ErrNoRows) {
		return in, false, nil
	}
	if err != nil {
		return in, false, err
	}
	in.batches = map[int64]batchRef{}
	return in, true, readBatches(ctx, q, `SELECT batch_id, sha256, as_of FROM refresh_batches`, in.batches)
}

// fullReason says why the models must be rebuilt whole, or "" if they need not be.
func fullReason(was, now inputs) string {
	switch {
	case was.schema != now.schema:
		return "数据库结构已升级"
	case was.modelsHash != now.modelsHash:
		return "模型定义已更新"
	case was.params != now.params:
		return "规则配置已更改"
	case was.catalogues != now.catalogues:
		return "能力点目录已更新"
	}
	for id, b := range now.batches {
		if o, ok := was.batches[id]; ok && o.sha != b.sha {
			return fmt.Sprintf("批次 %d 的内容已改变", id)
		}
	}
	return ""
}

func sameBatches(was, now inputs) bool {
	if len(was.batches) != len(now.batches) {
		return false
	}
	for id := range now.batches {
		if _, ok := was.batches[id]; !ok {
			return false
		}
	}
	return true
}

// Stale reports whether the built-in models are older than what is loaded (Catalog.Stale).
func Stale(ctx context.Context, db *sql.DB) (bool, error) {
	c, err := Builtin()
	if err != nil {
		return false, err
	}
	return c.Stale(ctx, db)
}

// Stale reports whether the models are older than what is loaded: a batch loaded or removed,
// a catalogue loaded, a migration applied or other model definitions since the last refresh
// (or no refresh recorded while batches are loaded). It reads only small tables.
func (c *Catalog) Stale(ctx context.Context, db *sql.DB) (bool, error) {
	var p Profile
	p, err := CurrentProfile(ctx, db)
	params := ""
	switch {
	case errors.Is(err, ErrNoProfile):
	case err != nil:
		return false, fmt.Errorf("stale: %w", err)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return false, fmt.Errorf("stale: %w", err)
		}
		params = string(b)
	}
	now, err := c.currentInputs(ctx, db, params)
	if err != nil {
		return false, fmt.Errorf("stale: %w", err)
	}
	was, ok, err := recordedInputs(ctx, db)
	if err != nil {
		return false, fmt.Errorf("stale: %w", err)
	}
	if !ok {
		return len(now.batches) > 0, nil
	}
	if params == "" {
		params = was.params
		now.params = params
	}
	return fullReason(was, now) != "" || !sameBatches(was, now), nil
}

// missingModels lists the models with no table (a warehouse never refreshed, or one a user
// dropped a table from).
func (c *Catalog) missingModels(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
	}
	var missing []string
	for _, m := range c.Models {
		if !have[m.Name] {
			missing = append(missing, m.Name)
		}
	}
	for _, t := range c.profileTables() {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	return missing, rows.Err()
}

// writeState records what the models were built from, inside the swap's transaction.
func writeState(ctx context.Context, conn *sql.Conn, now inputs, mode, fromMonth, reason string) error {
	if _, err := conn.ExecContext(ctx, `DELETE FROM refresh_state`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO refresh_state VALUES (?, ?, ?, ?, ?, nullif(?, ''), nullif(?, ''), current_timestamp::TIMESTAMP)`,
		now.schema, now.modelsHash, now.params, now.catalogues, mode, fromMonth, reason); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `DELETE FROM refresh_batches`); err != nil {
		return err
	}
	if len(now.batches) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(now.batches))
	for id := range now.batches {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// the batches the models were built from, as read when the refresh began
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = fmt.Sprint(id)
	}
	_, err := conn.ExecContext(ctx, `INSERT INTO refresh_batches
		SELECT batch_id, sha256, as_of FROM batches WHERE batch_id IN (SELECT unnest(?::BIGINT[]))`, "["+strings.Join(list, ",")+"]")
	return err
}
