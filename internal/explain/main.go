package main

import (
	"database/sql"
	"fmt"
	"os"

	_ "github.com/marcboeker/go-duckdb"
)

func main() {
	db, err := sql.Open("duckdb", os.Args[1]+"?access_mode=READ_ONLY&memory_limit=3GB")
	if err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(os.Args[2])
	var k, v string
	if err := db.QueryRow("EXPLAIN ANALYZE SELECT count(*) FROM (" + string(b) + ")").Scan(&k, &v); err != nil {
		panic(err)
	}
	fmt.Println(v)
}
