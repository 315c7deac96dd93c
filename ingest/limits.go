package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"tisheng/ingest/xlsxstream"
)

// Limits bound what one file can make a load hold, write or take. A file past a limit is
// refused whole, with the limit, its row and the file named, and nothing is written.
type Limits struct {
	XLSX      xlsxstream.Limits
	LineBytes int // bytes of one CSV record
	Columns   int // cells in one CSV row
	CellChars int // characters in one CSV cell (Excel's limit, as for XLSX)
	Rows      int // data rows in one file
	// Data rows in a file whose rows are checked against each other for repeats (every kind
	// but hours detail): the check keeps 16 bytes a row in memory.
	KeyedRows int
	// What a rejected row keeps: each value and the reason are cut to these many characters.
	RejectValueChars  int
	RejectReasonChars int
}

// DefaultLimits fit a province's exports (tens of millions of hours rows, a few million
// teachers or results) and nothing that could exhaust memory: a CSV record of at most 1 MiB,
// a cell of Excel's 32,767 characters.
func DefaultLimits() Limits {
	return Limits{
		XLSX:              xlsxstream.DefaultLimits(),
		LineBytes:         1 << 20,
		Columns:           16384,
		CellChars:         32767,
		Rows:              50_000_000,
		KeyedRows:         5_000_000,
		RejectValueChars:  200,
		RejectReasonChars: 300,
	}
}

// limitError is a file refused for a limit.
func limitError(line int, format string, a ...any) *fileError {
	return &fileError{Line: line, Msg: fmt.Sprintf(format, a...) + "，整个文件未导入"}
}

// fromXLSXLimit words a sheet reader's limit error for the user.
func fromXLSXLimit(err error, sheet string) (*fileError, bool) {
	var le *xlsxstream.LimitError
	if !errors.As(err, &le) {
		return nil, false
	}
	where := ""
	if sheet != "" {
		where = "工作表「" + sheet + "」"
	}
	if le.Col >= 0 {
		where += xlsxstream.ColumnName(le.Col) + "列"
	}
	if where != "" {
		where += "："
	}
	return limitError(le.Row, "%s%s", where, le.Limit), true
}

var errRecordTooLong = errors.New("csv record too long")

// boundedReader passes a CSV's decoded text to encoding/csv and stops a record longer than
// max bytes: csv.Reader holds a whole record in memory, however long it is.
type boundedReader struct {
	r     io.Reader
	pos   int64 // bytes passed on
	mark  int64 // where the current record starts
	max   int64
	lines int // line ends passed on, to say where a long record is
}

// readAhead is more than encoding/csv's bufio reads past a record's end.
const readAhead = 8 << 10

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.pos-b.mark > b.max+readAhead {
		return 0, errRecordTooLong
	}
	n, err := b.r.Read(p)
	b.pos += int64(n)
	b.lines += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

// truncate cuts s to n characters, saying how long it was.
func truncate(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for i = range s {
		if k == n {
			break
		}
		k++
	}
	return s[:i] + fmt.Sprintf("…（截断，共%d字）", utf8.RuneCountInString(s))
}
