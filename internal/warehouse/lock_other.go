//go:build !unix

package warehouse

// lockHolder cannot ask who holds the file here: DuckDB's own error stands.
func lockHolder(string) (int, bool) { return 0, false }

func programOf(int) string { return "" }
