package models

import (
	"context"
	"database/sql"
)

// TableDoc is one analyst table as the SQL page lists it.
type TableDoc struct {
	Name    string      `json:"name"`
	Label   string      `json:"label"`
	Columns []ColumnDoc `json:"columns"`
}

// ColumnDoc is one column with its Chinese label.
type ColumnDoc struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// Browse lists the analyst tables of db with their columns' types and Chinese labels, in
// the schema document's order.
func (c *Catalog) Browse(ctx context.Context, db *sql.DB) ([]TableDoc, error) {
	d, err := Dictionary()
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := map[string][]ColumnDoc{}
	for rows.Next() {
		var t, col, typ string
		if err := rows.Scan(&t, &col, &typ); err != nil {
			return nil, err
		}
		doc, _ := c.Describe(d, t, col)
		cols[t] = append(cols[t], ColumnDoc{Name: col, Label: doc.Label, Type: typ})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []TableDoc
	for _, t := range c.AnalystTables() {
		if len(cols[t]) > 0 {
			decl, _ := c.Table(t)
			out = append(out, TableDoc{Name: t, Label: decl.Label, Columns: cols[t]})
		}
	}
	return out, nil
}
