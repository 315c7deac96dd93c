package warehouse

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The warehouse key (the HMAC key of every ID number's hash) lives outside the database:
// KeyEnv holds it (hex), else the file KeyFileEnv names, else KeyFile(db) beside the
// database. ingest.LoadKey creates the file on first use; a backup carries it.
const (
	KeyEnv     = "TISHENG_ID_KEY"
	KeyFileEnv = "TISHENG_KEY_FILE"
)

// KeyFile is the key file beside a warehouse file: FILE.key.
func KeyFile(db string) string { return db + ".key" }

// ErrNoKey is a warehouse whose key is nowhere: not in the environment, no key file.
var ErrNoKey = errors.New("key: no key")

// FindKey reads the warehouse's key where it is (see KeyEnv), creating nothing. A key file
// that anyone but its owner may read or change is refused, as ssh refuses such a private
// key: whoever reads the key can rebuild every ID's hash. It returns ErrNoKey (wrapped)
// when there is no key yet, and where it looked.
func FindKey(db string) (key []byte, file string, err error) {
	if v := strings.TrimSpace(os.Getenv(KeyEnv)); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil {
			return nil, "", fmt.Errorf("key: %s is not hex: %w", KeyEnv, err)
		}
		return k, "", nil
	}
	file = os.Getenv(KeyFileEnv)
	if file == "" {
		file = KeyFile(db)
	}
	b, err := readKeyFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, file, fmt.Errorf("%w: %s", ErrNoKey, file)
	}
	if err != nil {
		return nil, file, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, file, fmt.Errorf("key: %s is not hex: %w", file, err)
	}
	return k, file, nil
}

// readKeyFile reads a key file, refusing it when its group or others may access it.
func readKeyFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key: 密钥文件 %s 的权限为 %04o，同组或其他用户可以访问，已拒绝使用：请执行 chmod 600 %s 后重试", file, perm, file)
	}
	return io.ReadAll(io.LimitReader(f, 4096))
}

// KeyText is a key as a key file holds it: hex and a newline.
func KeyText(key []byte) []byte { return []byte(hex.EncodeToString(key) + "\n") }

// KeyFingerprint identifies a key without revealing it: the first 128 bits of
// HMAC-SHA256(key, "tisheng key fingerprint") in hex, as ingest records it in meta on the
// warehouse's first load.
func KeyFingerprint(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tisheng key fingerprint"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// ErrWrongKey is a key that is not the one the warehouse was loaded with.
var ErrWrongKey = errors.New("key: not the warehouse's key")

// CheckKey reports whether key is the warehouse's, without recording anything: a warehouse
// never loaded has no fingerprint yet, and any key fits it.
func CheckKey(ctx context.Context, db *sql.DB, key []byte) error {
	have, err := RecordedFingerprint(ctx, db)
	if err != nil || have == "" {
		return err
	}
	if have != KeyFingerprint(key) {
		return ErrWrongKey
	}
	return nil
}

// RecordedFingerprint is the fingerprint of the key the warehouse was loaded with, as its
// first load recorded it ("" when nothing was loaded yet).
func RecordedFingerprint(ctx context.Context, db *sql.DB) (string, error) {
	var fp string
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'id_key_fingerprint'`).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	return fp, nil
}
