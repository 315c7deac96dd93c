package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// cityFiles is the generated city, loaded once by each binary into a warehouse of its own
// (models refreshed), with an admin and a district user's API tokens.
type cityFiles struct {
	exports   string
	base      map[bool]string // by old: the loaded and refreshed warehouse
	adminTok  map[bool]string
	distTok   map[bool]string
	district  string
	districts []string
	months    []string
	schools   []string
}

var reToken = regexp.MustCompile(`tsk_[A-Za-z0-9_-]+`)

func (c *config) makeCity(ctx context.Context) (*cityFiles, error) {
	city := &cityFiles{exports: filepath.Join(c.dir, "city-exports"), base: map[bool]string{}, adminTok: map[bool]string{}, distTok: map[bool]string{}}
	if _, err := os.Stat(city.exports + ".ready"); err != nil {
		os.RemoveAll(city.exports)
		fmt.Fprintf(c.stdout, "generating the city (%d teachers, %d districts) …\n", c.teachers, c.districts)
		if _, _, err := c.tisheng(ctx, c.newBin, "gen", "--out", city.exports, "--districts", fmt.Sprint(c.districts),
			"--teachers", fmt.Sprint(c.teachers), "--seed", "1"); err != nil {
			return nil, err
		}
		if err := os.WriteFile(city.exports+".ready", nil, 0o644); err != nil {
			return nil, err
		}
	}
	files, err := filepath.Glob(filepath.Join(city.exports, "*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, old := range []bool{true, false} {
		bin := c.newBin
		if old {
			bin = c.oldBin
		}
		db := filepath.Join(c.dir, "city-"+c.label(old)+".duckdb")
		city.base[old] = db
		if _, err := os.Stat(db + ".ready"); err != nil {
			removeDB(db)
			fmt.Fprintf(c.stdout, "loading the city with the %s binary …\n", c.label(old))
			el, _, err := c.tisheng(ctx, bin, append([]string{"ingest", "--db", db, "--school-from-name", "研修考核_{code}_"}, files...)...)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(c.stdout, "  %d files in %.1f s\n", len(files), el.Seconds())
			if _, _, err := c.tisheng(ctx, bin, "refresh", "--db", db); err != nil {
				return nil, err
			}
			if err := os.WriteFile(db+".ready", nil, 0o644); err != nil {
				return nil, err
			}
		}
		ds, err := c.column(ctx, bin, db, "SELECT DISTINCT district FROM school_gate ORDER BY 1")
		if err != nil {
			return nil, err
		}
		if len(ds) == 0 {
			return nil, errors.New("the city has no districts")
		}
		city.districts, city.district = ds, ds[0]
		if city.months, err = c.column(ctx, bin, db, "SELECT month FROM months ORDER BY 1"); err != nil {
			return nil, err
		}
		if city.schools, err = c.column(ctx, bin, db, "SELECT school_code FROM school_gate ORDER BY 1"); err != nil {
			return nil, err
		}
		if city.adminTok[old], err = c.token(ctx, bin, db, "bench-admin", "admin", ""); err != nil {
			return nil, err
		}
		if city.distTok[old], err = c.token(ctx, bin, db, "bench-district", "district", city.district); err != nil {
			return nil, err
		}
	}
	return city, nil
}

// column runs a one-column query through `tisheng sql` and returns its values.
func (c *config) column(ctx context.Context, bin, db, q string) ([]string, error) {
	_, out, err := c.tisheng(ctx, bin, "sql", "--db", db, "--format", "csv", q)
	if err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(out), "\ufeff"))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	var vals []string
	for _, r := range recs[1:] { // the header
		if len(r) == 1 && !strings.HasPrefix(r[0], "（") {
			vals = append(vals, r[0])
		}
	}
	return vals, nil
}

// token makes (once) a user and an API token through the command line; the token is kept
// beside the warehouse, since it is shown only when made.
func (c *config) token(ctx context.Context, bin, db, name, role, district string) (string, error) {
	file := db + "." + name + ".token"
	if b, err := os.ReadFile(file); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	args := []string{"user", "add", "--db", db, "--name", name, "--role", role}
	if district != "" {
		args = append(args, "--district", district)
	}
	if _, _, err := c.tisheng(ctx, bin, args...); err != nil {
		return "", err
	}
	_, out, err := c.tisheng(ctx, bin, "token", "add", "--db", db, "--user", name)
	if err != nil {
		return "", err
	}
	t := reToken.FindString(string(out))
	if t == "" {
		return "", fmt.Errorf("token add printed no token: %s", out)
	}
	return t, os.WriteFile(file, []byte(t), 0o600)
}

// benchRefresh times a full refresh of the city, each run on a copy of the binary's own
// loaded warehouse.
func (c *config) benchRefresh(ctx context.Context, city *cityFiles) ([]row, error) {
	fmt.Fprintf(c.stdout, "full refresh at city scale …\n")
	olds, news, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
		db := filepath.Join(c.dir, "refresh-"+c.label(old)+".duckdb")
		if err := copyDB(city.base[old], db); err != nil {
			return 0, err
		}
		el, _, err := c.tisheng(ctx, bin, "refresh", "--db", db, "--full")
		return seconds(el), err
	})
	return []row{{name: fmt.Sprintf("full refresh, city (%d teachers, 2 months)", c.teachers), unit: "s", target: "≤ 0.8x", old: olds, new: news}}, err
}

// benchMonthly times `tisheng report monthly` (the 月报) on the city.
func (c *config) benchMonthly(ctx context.Context, city *cityFiles) ([]row, error) {
	fmt.Fprintf(c.stdout, "月报 at city scale …\n")
	olds, news, err := c.inTurn(c.runs, func(bin string, old bool) (float64, error) {
		out := filepath.Join(c.dir, "monthly-"+c.label(old)+".xlsx")
		os.Remove(out)
		el, _, err := c.tisheng(ctx, bin, "report", "monthly", "--db", city.base[old], "--out", out)
		if err == nil {
			if st, serr := os.Stat(out); serr != nil || st.Size() == 0 {
				err = fmt.Errorf("no workbook written")
			}
		}
		return seconds(el), err
	})
	return []row{{name: "月报 (report monthly), city", unit: "s", target: "≤ 1.1x", old: olds, new: news}}, err
}
