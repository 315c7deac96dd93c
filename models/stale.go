package models

import (
	"context"
	"database/sql"
)

// Outdated reports whether the models are older than what they are built from: a file loaded
// or taken back, a catalogue, a profile or a migration since the last refresh (Stale reads
// the state the last refresh recorded). A server killed after a load committed and before
// its refresh finished leaves exactly this state.
func Outdated(ctx context.Context, db *sql.DB) (bool, error) { return Stale(ctx, db) }
