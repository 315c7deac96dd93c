#!/bin/sh
# Regenerates the producer fixtures of conformance_test.go: the same small table written by
# LibreOffice (soffice), openpyxl and XlsxWriter (Debian: libreoffice-calc-nogui,
# python3-openpyxl, python3-xlsxwriter). The test compares our reader with excelize on them.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp producers.fods "$tmp/libreoffice.fods"
soffice --headless --convert-to xlsx --outdir "$tmp" "$tmp/libreoffice.fods" >/dev/null
cp "$tmp/libreoffice.xlsx" libreoffice.xlsx
/usr/bin/python3 producers.py
