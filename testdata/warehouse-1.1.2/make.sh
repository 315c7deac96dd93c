#!/usr/bin/env bash
# Makes w.duckdb.gz: a warehouse written by tisheng on DuckDB 1.1.2 (commit 18a69f2, the
# last before the move to duckdb-go/v2), from testdata/demo, with the test key in w.duckdb.key.
# Run once, with that release's binary; internal/warehouse/compat_test.go opens the file
# with the current one and compares every analyst table with a fresh build of the same
# exports. Usage: make.sh PATH-TO-OLD-TISHENG
set -euo pipefail
old=${1:?usage: make.sh PATH-TO-TISHENG-BUILT-FROM-18a69f2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/w.duckdb.key" "$work/w.duckdb.key"
chmod 600 "$work/w.duckdb.key"
unset TISHENG_ID_KEY TISHENG_KEY_FILE
# every file in name order, as the test's fresh build loads them
"$old" ingest --db "$work/w.duckdb" --school-from-name '研修考核_{code}_' "$here"/../demo/*
"$old" refresh --db "$work/w.duckdb"
# an empty DuckDB block compresses to nothing: 13.9 MB on disk, about 220 KB gzipped
gzip -9 -c "$work/w.duckdb" > "$here/w.duckdb.gz"
