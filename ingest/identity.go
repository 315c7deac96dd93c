package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"

	"tisheng/internal/warehouse"
)

// KeyEnv holds the HMAC key (hex) directly; KeyFileEnv names the file that holds it.
const (
	KeyEnv     = warehouse.KeyEnv
	KeyFileEnv = warehouse.KeyFileEnv
)

// Identity turns full ID numbers into keyed hashes. The key never enters the database: only
// a fingerprint of it does, so a warehouse opened with the wrong key is refused instead of
// silently producing teacher keys that match nobody.
type Identity struct {
	mac   hash.Hash
	cache map[string]string
	buf   []byte
}

// NewIdentity returns an Identity for a key of at least 16 bytes.
func NewIdentity(key []byte) (*Identity, error) {
	if len(key) < 16 {
		return nil, errors.New("identity: key shorter than 16 bytes")
	}
	return &Identity{mac: hmac.New(sha256.New, key), cache: map[string]string{}}, nil
}

// Key returns the teacher key of a validated full ID: the first 128 bits of
// HMAC-SHA256(key, id) in hex.
func (id *Identity) Key(full string) string {
	if k, ok := id.cache[full]; ok {
		return k
	}
	id.mac.Reset()
	id.mac.Write([]byte(full))
	id.buf = id.mac.Sum(id.buf[:0])
	k := hex.EncodeToString(id.buf[:16])
	if len(id.cache) > 1<<20 { // bound the cache on province-scale files
		clear(id.cache)
	}
	id.cache[full] = k
	return k
}

// fingerprint identifies the key without revealing it (warehouse.KeyFingerprint, which
// backups check keys with, is the same function of the key).
func (id *Identity) fingerprint() string { return id.Key("tisheng key fingerprint") }

// LoadKey finds the HMAC key: TISHENG_ID_KEY (hex), else the file named by TISHENG_KEY_FILE,
// else FILE.key beside the database (warehouse.FindKey); a missing key file is created with
// 0600 permissions.
func LoadKey(ctx context.Context, db *sql.DB, dbFile string) ([]byte, error) {
	k, file, err := warehouse.FindKey(dbFile)
	if !errors.Is(err, warehouse.ErrNoKey) {
		return k, err
	}
	// A warehouse already loaded with a key whose key is gone gets no new one: a new key
	// matches none of its teachers, and a key file made now would hide the loss.
	if db != nil {
		fp, err := warehouse.RecordedFingerprint(ctx, db)
		if err != nil {
			return nil, err
		}
		if fp != "" {
			return nil, fmt.Errorf("找不到仓库 %s 的密钥：密钥文件 %s 不存在，环境变量 %s、%s 也没有设置。"+
				"这个仓库已用密钥导入过数据，新密钥无法与已导入的教师对应，所以没有新建密钥。"+
				"请从备份中取回密钥文件（每份备份目录里以 .key 结尾的文件），放回 %s 并设为仅属主可读写（chmod 600）", dbFile, file, KeyEnv, KeyFileEnv, file)
		}
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key: create %s: %w", file, err)
	}
	if _, err := f.Write(warehouse.KeyText(k)); err != nil {
		f.Close()
		return nil, fmt.Errorf("key: write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("key: write %s: %w", file, err)
	}
	return k, nil
}

// checkFingerprint records the key's fingerprint on first use and refuses a different key.
func (id *Identity) checkFingerprint(ctx context.Context, db *sql.DB) error {
	fp := id.fingerprint()
	have, err := warehouse.RecordedFingerprint(ctx, db)
	if err != nil {
		return err
	}
	if have == "" {
		_, err = db.ExecContext(ctx, `INSERT INTO meta VALUES ('id_key_fingerprint', ?)`, fp)
		return err
	}
	if have != fp {
		return errors.New("密钥不是这个仓库导入数据时所用的密钥：请检查密钥文件（仓库文件旁的 .key）或环境变量 " + KeyEnv + "、" + KeyFileEnv + "，从备份中取回正确的密钥")
	}
	return nil
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// ValidateID checks an 18-character ID number (GB 11643): digits, a real birth date and the
// check digit. It returns the ID with a lowercase x made upper.
func ValidateID(s string) (string, error) {
	if len(s) != 18 {
		if len(s) == 15 && allDigits(s) {
			return "", errors.New("15位旧身份证号，请使用18位号码")
		}
		if looksLikeFloat(s) {
			return "", errors.New("身份证号被存成了数字，已丢失末几位（请将该列设为文本）")
		}
		return "", fmt.Errorf("身份证号应为18位，实为%d位", len([]rune(s)))
	}
	if s[17] == 'x' {
		s = s[:17] + "X"
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return "", errors.New("身份证号前17位应为数字")
		}
		sum += int(c-'0') * idWeights[i]
	}
	last := s[17]
	if !(last >= '0' && last <= '9') && last != 'X' {
		return "", errors.New("身份证号末位应为数字或X")
	}
	if !validYMD(s[6:14]) {
		return "", errors.New("身份证号中的出生日期无效")
	}
	if want := idCheckChars[sum%11]; want != last {
		return "", fmt.Errorf("身份证号校验位错误（应为%c）", want)
	}
	return s, nil
}

func looksLikeFloat(s string) bool {
	return strings.ContainsAny(s, "Ee") && strings.Contains(s, ".") && len(s) < 18
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validYMD(s string) bool {
	if len(s) != 8 || !allDigits(s) {
		return false
	}
	y := atoi(s[:4])
	m := atoi(s[4:6])
	d := atoi(s[6:8])
	return y >= 1900 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m)
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// MaskID is the form shown on screen and stored: the first 6 and last 4 characters.
func MaskID(full string) string { return full[:6] + "********" + full[14:] }

// maskedID is an ID as a platform showed it, with stars in the middle.
type maskedID struct{ prefix, suffix string }

// parseMaskedID accepts `440402********1234`, `440402*******` and the like: visible digits
// (or a final X) around one run of stars.
func parseMaskedID(s string) (maskedID, bool) {
	i := strings.IndexByte(s, '*')
	if i < 0 {
		return maskedID{}, false
	}
	j := strings.LastIndexByte(s, '*')
	if strings.Trim(s[i:j+1], "*") != "" {
		return maskedID{}, false
	}
	m := maskedID{prefix: s[:i], suffix: strings.ToUpper(s[j+1:])}
	if !allDigits(m.prefix) && m.prefix != "" {
		return maskedID{}, false
	}
	suf := strings.TrimSuffix(m.suffix, "X")
	if suf != "" && !allDigits(suf) {
		return maskedID{}, false
	}
	if len(m.prefix)+len(m.suffix) > 10 || len(m.prefix) > 6 || len(m.suffix) > 4 {
		return maskedID{}, false
	}
	return m, true
}

// fits reports whether a roster teacher's stored mask agrees with the visible parts.
func (m maskedID) fits(stored string) bool {
	return strings.HasPrefix(stored, m.prefix) && strings.HasSuffix(stored, m.suffix)
}

// canonical is the masked ID as stored: its visible digits around stars, 18 characters, so
// that refresh can match it against rosters' masks by prefix and suffix.
func (m maskedID) canonical() string {
	return m.prefix + strings.Repeat("*", 18-len(m.prefix)-len(m.suffix)) + m.suffix
}

// maskAny masks whatever a cell holds in an ID column, for keeping rejected rows: a full
// number keeps only its first 6 and last 4 characters, anything long enough to be a number
// is cut the same way, and a short value is starred out whole.
func maskAny(s string) string {
	r := []rune(s)
	switch {
	case strings.Contains(s, "*"):
		return s
	case len(r) >= 14:
		return string(r[:6]) + strings.Repeat("*", len(r)-10) + string(r[len(r)-4:])
	default:
		return strings.Repeat("*", len(r))
	}
}

// CompleteID appends the GB 11643 check digit to the first 17 digits of an ID (for
// generating data and tests).
func CompleteID(first17 string) string {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return first17 + string(idCheckChars[sum%11])
}
