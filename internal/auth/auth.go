// Package auth holds who may use tisheng: accounts with roles and scopes, password and
// token checks, sessions, and the append-only audit trail. The server decides a caller's
// Scope once, at the edge, from a session cookie or a bearer token, and passes it down.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Role is what a user may do.
type Role string

// The four roles: the project office, a district's analysts, a school's
// administrator and leaders who read.
const (
	RoleAdmin    Role = "admin"
	RoleDistrict Role = "district"
	RoleSchool   Role = "school"
	RoleLeader   Role = "leader"
)

// Label is the role's Chinese name.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "工程办管理员"
	case RoleDistrict:
		return "区县管理员"
	case RoleSchool:
		return "学校管理员"
	case RoleLeader:
		return "领导（只读）"
	}
	return string(r)
}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleDistrict, RoleSchool, RoleLeader:
		return r, nil
	}
	return "", fmt.Errorf("角色「%s」无效：应为 admin、district、school 或 leader", s)
}

// Scope is what one caller may see and do. The zero Scope may see nothing.
type Scope struct {
	User     string
	Role     Role
	District string // set for district users, leaders of one district, and school users (their school's district)
	School   string // set for school users
}

// Valid reports whether the scope names a user with a role; anything else sees nothing.
func (s Scope) Valid() bool {
	if s.User == "" {
		return false
	}
	switch s.Role {
	case RoleAdmin:
		return s.District == "" && s.School == ""
	case RoleLeader:
		return s.School == ""
	case RoleDistrict:
		return s.District != "" && s.School == ""
	case RoleSchool:
		return s.School != ""
	}
	return false
}

// Everything reports whether the scope reaches every district.
func (s Scope) Everything() bool { return s.Valid() && s.District == "" && s.School == "" }

// CanSQL: ad-hoc SQL is for the project office and district analysts.
func (s Scope) CanSQL() bool {
	return s.Valid() && (s.Role == RoleAdmin || s.Role == RoleDistrict)
}

// CanUpload: leaders only read.
func (s Scope) CanUpload() bool {
	return s.Valid() && s.Role != RoleLeader
}

// IsAdmin: users, the audit trail, refreshes and batch removal.
func (s Scope) IsAdmin() bool { return s.Valid() && s.Role == RoleAdmin }

// String is the scope as the audit trail and the pages show it.
func (s Scope) String() string {
	switch {
	case !s.Valid():
		return "无"
	case s.School != "":
		return "学校:" + s.School
	case s.District != "":
		return "区县:" + s.District
	}
	return "全部"
}

// User is an account.
type User struct {
	Name              string    `json:"name"`
	Role              Role      `json:"role"`
	District          string    `json:"district,omitempty"`
	School            string    `json:"school,omitempty"`
	Disabled          bool      `json:"disabled"`
	CreatedAt         time.Time `json:"created_at"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
}

// Scope is the user's scope; a school user's district is filled in by the caller, which
// knows the school list.
func (u User) Scope() Scope {
	return Scope{User: u.Name, Role: u.Role, District: u.District, School: u.School}
}

// Errors a login or a check can end in.
var (
	// ErrBadCredentials is every refused login as the client sees it: an unknown name, a
	// wrong password, a disabled account and a throttled address answer alike, so that
	// names cannot be probed (LoginError says which, for the audit trail).
	ErrBadCredentials = errors.New("用户名或密码错误（多次失败后须稍候几分钟再试）")
	ErrDisabled       = errors.New("账号已停用")
	ErrNoSession      = errors.New("未登录或登录已过期")
	ErrUserExists     = errors.New("用户已存在")
	ErrNoUser         = errors.New("没有这个用户")
)

// LoginError is a refused login. The client is told ErrBadCredentials whatever the reason;
// Reason is for the audit trail only.
type LoginError struct {
	Reason    string
	Throttled bool // refused before any password was checked
}

func (e *LoginError) Error() string        { return ErrBadCredentials.Error() }
func (e *LoginError) Is(target error) bool { return target == ErrBadCredentials }

// The reasons a login is refused, as the audit trail records them.
const (
	ReasonUnknownName    = "无此用户"
	ReasonWrongPassword  = "密码错误"
	ReasonDisabled       = "账号已停用（密码错误）"
	ReasonDisabledRight  = "账号已停用（密码正确）"
	ReasonThrottledAddr  = "来源地址登录失败过多，已限流"
	ReasonThrottledName  = "该地址对此用户名登录失败过多，已限流"
	ReasonHashingBusy    = "同时校验的登录过多，未校验"
	maxLoginNameBytes    = 256
	maxLoginPasswordByte = 1024
)

// Policy is the login policy.
type Policy struct {
	SessionTTL time.Duration // how long a login lasts
	Throttle   ThrottlePolicy
	// HashSlots bounds the password hashes computed at once (each takes a core for tens of
	// milliseconds and 19 MiB): a login flood from many addresses leaves the other cores to
	// everyone else. 0: half the cores, at least one.
	HashSlots int
	// HashWait is how long a login waits for a hash slot before it is refused.
	HashWait time.Duration
	// TrustedSlots are hash slots kept for logins from a trusted device (device.go), which
	// may also use the others: a flood of strangers cannot keep a returning user out.
	TrustedSlots int
	// DeviceTTL is how long a device cookie vouches for a name after its last login.
	DeviceTTL time.Duration
}

// DefaultPolicy: a working day's session, the default throttle, one trusted hash slot and
// device cookies that last a school term.
var DefaultPolicy = Policy{SessionTTL: 12 * time.Hour, Throttle: DefaultThrottle, HashWait: 5 * time.Second, TrustedSlots: 1,
	DeviceTTL: 120 * 24 * time.Hour}

// Store is the accounts of one warehouse. Writes are serialised by one mutex (the process
// holds the warehouse alone), which also keeps user names unique.
type Store struct {
	db        *sql.DB
	policy    Policy
	now       func() time.Time
	throttle  *Throttle
	hashing   chan struct{} // hash slots (Policy.HashSlots)
	trusted   chan struct{} // hash slots of trusted devices (Policy.TrustedSlots)
	deviceKey []byte        // device cookies' key (device.go)

	mu    sync.Mutex
	cache map[string]cached // session and token hashes seen recently
}

type cached struct {
	user User
	exp  time.Time // the session's expiry (zero for tokens)
	at   time.Time // when it was read
}

// cacheFor bounds how long a disabled user or revoked token can go on being served by a
// cache entry; changes made through this Store clear the cache at once.
const cacheFor = 5 * time.Second

// NewStore returns the accounts store over a migrated warehouse.
func NewStore(db *sql.DB, p Policy) *Store {
	if p.SessionTTL <= 0 {
		p.SessionTTL = DefaultPolicy.SessionTTL
	}
	if p.HashSlots <= 0 {
		p.HashSlots = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if p.HashWait <= 0 {
		p.HashWait = DefaultPolicy.HashWait
	}
	if p.TrustedSlots <= 0 {
		p.TrustedSlots = DefaultPolicy.TrustedSlots
	}
	if p.DeviceTTL <= 0 {
		p.DeviceTTL = DefaultPolicy.DeviceTTL
	}
	return &Store{db: db, policy: p, now: func() time.Time { return time.Now().UTC() }, cache: map[string]cached{},
		throttle: NewThrottle(p.Throttle), hashing: make(chan struct{}, p.HashSlots), trusted: make(chan struct{}, p.TrustedSlots),
		deviceKey: randomKey()}
}

// SetClock replaces the clock (tests of expiry and lock-out).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Policy returns the login policy.
func (s *Store) Policy() Policy { return s.policy }

var reName = regexp.MustCompile(`^[\p{L}\p{N}_.@-]{1,64}$`)
var reCode = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)

// CheckUser validates an account's role and scope fields.
func CheckUser(u User) error {
	if !reName.MatchString(u.Name) {
		return fmt.Errorf("用户名「%s」无效：1–64 个字母、数字或 _ . @ -", u.Name)
	}
	if _, err := ParseRole(string(u.Role)); err != nil {
		return err
	}
	if len(u.District) > 64 {
		return errors.New("区县名称过长")
	}
	switch u.Role {
	case RoleAdmin:
		if u.District != "" || u.School != "" {
			return errors.New("admin 用户管理全部区县，不能指定 --district 或 --school")
		}
	case RoleDistrict:
		if u.District == "" || u.School != "" {
			return errors.New("district 用户需要 --district（且不能指定 --school）")
		}
	case RoleSchool:
		if u.School == "" {
			return errors.New("school 用户需要 --school 学校代码")
		}
		if u.District != "" {
			// its district is the one the school list gives the school, month by month: a
			// district stored with the account could only disagree with it
			return errors.New("school 用户的区县由学校信息决定，不能指定 --district（管理页面上请把「区县」留空）")
		}
		if !reCode.MatchString(u.School) {
			return fmt.Errorf("学校代码「%s」无效", u.School)
		}
	case RoleLeader:
		if u.School != "" {
			return errors.New("leader 用户可看全部或一个区县（--district），不能指定 --school")
		}
	}
	return nil
}

// ErrNoSchoolList is a district or school that cannot be checked: no school list is loaded.
var ErrNoSchoolList = errors.New("仓库还没有导入学校信息，无法核对区县和学校代码")

// CheckKnownScope checks an account's district and school against the loaded school lists:
// a name that is not there (a typo, a trailing space) would give an account that sees
// nothing. With no school list loaded it returns ErrNoSchoolList, which callers show as a
// warning: the project office creates accounts before the first load.
func CheckKnownScope(u User, districts, schools map[string]bool) error {
	if u.District == "" && u.School == "" {
		return nil
	}
	if len(districts) == 0 && len(schools) == 0 {
		return ErrNoSchoolList
	}
	if u.District != "" && !districts[u.District] {
		return fmt.Errorf("区县「%s」不在已导入的学校信息中（已有：%s）：请核对名称", u.District, strings.Join(sortedKeys(districts, 20), "、"))
	}
	if u.School != "" && !schools[u.School] {
		return fmt.Errorf("学校代码「%s」不在已导入的学校信息中：请核对代码", u.School)
	}
	return nil
}

func sortedKeys(m map[string]bool, n int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) > n {
		ks = append(ks[:n], "…")
	}
	return ks
}

// trimUser drops the spaces around an account's names: a district typed as "东湖区 " is
// 东湖区 (a trailing space would match no row).
func trimUser(u User) User {
	u.Name, u.District, u.School = strings.TrimSpace(u.Name), strings.TrimSpace(u.District), strings.TrimSpace(u.School)
	return u
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// newPasswordHash checks a new password's length and hashes it.
func newPasswordHash(password string) (string, error) {
	if len([]rune(password)) < MinPasswordLen {
		return "", fmt.Errorf("密码至少 %d 个字符", MinPasswordLen)
	}
	return HashPassword(password)
}

// AddUser creates an account with the password (hashed with argon2id); spaces around
// its names are dropped.
func (s *Store) AddUser(ctx context.Context, u User, password string) error {
	u = trimUser(u)
	if err := CheckUser(u); err != nil {
		return err
	}
	h, err := newPasswordHash(password)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE name = ?`, u.Name).Scan(&n); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w：%s", ErrUserExists, u.Name)
	}
	now := s.now()
	_, err = s.db.ExecContext(ctx, `INSERT INTO users VALUES (?, ?, ?, ?, ?, false, 0, NULL, ?, ?)`,
		u.Name, string(u.Role), nullable(u.District), nullable(u.School), h, now, now)
	if err != nil {
		return fmt.Errorf("auth: add user: %w", err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const userCols = `name, role, coalesce(district, ''), coalesce(school, ''), disabled, created_at, password_changed_at`

// userColsU is userCols of the users table aliased u.
var userColsU = prefixed("u.", userCols)

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var role string
	err := sc.Scan(&u.Name, &role, &u.District, &u.School, &u.Disabled, &u.CreatedAt, &u.PasswordChangedAt)
	u.Role = Role(role)
	return u, err
}

// Users lists the accounts by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// User reads one account.
func (s *Store) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("%w：%s", ErrNoUser, name)
	}
	if err != nil {
		return u, fmt.Errorf("auth: %w", err)
	}
	return u, nil
}

// SetDisabled disables (or enables) an account. Disabling ends its sessions and revokes
// its API tokens: enabling it again gives back the login, not the old tokens, which may
// have been handed to someone when the account was taken away.
func (s *Store) SetDisabled(ctx context.Context, name string, disabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, disabled, name)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w：%s", ErrNoUser, name)
	}
	if disabled {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, name); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked = true WHERE user_name = ?`, name); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	s.cache = map[string]cached{}
	return nil
}

// SetPassword replaces a password, ends its sessions and revokes its API tokens.
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	h, err := newPasswordHash(password)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_changed_at = ? WHERE name = ?`, h, s.now(), name)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w：%s", ErrNoUser, name)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, name); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	// a reset is what an admin does for a leaked credential: the account's tokens go too
	if _, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked = true WHERE user_name = ?`, name); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	s.cache = map[string]cached{}
	return nil
}

// dummyHash is checked against when the name is unknown, so that a wrong name costs the
// same time as a wrong password.
var dummyHash = func() string {
	h, _ := hashWith("not a password", make([]byte, 16))
	return h
}()

// Login checks a name and password from a client address. On success it returns a new
// session token (for the cookie) and the user. Every refusal is a *LoginError that says
// only ErrBadCredentials; an address that failed too often is refused before any password
// is hashed, and no account is locked for everyone. The hash runs outside the store's
// mutex, which every session and token lookup needs.
func (s *Store) Login(ctx context.Context, remote, name, password string) (string, User, error) {
	return s.LoginDevice(ctx, remote, name, password, "")
}

// LoginDevice is Login with the browser's device cookie (device.go): one that vouches for
// name lets the login skip the address bucket and hash in a slot kept for such logins.
func (s *Store) LoginDevice(ctx context.Context, remote, name, password, device string) (string, User, error) {
	addr := AddrKey(remote)
	refused, trusted := s.throttle.Take(addr, name, s.now(), s.DeviceTrusted(device, name))
	switch refused {
	case ThrottledByAddr:
		return "", User{}, &LoginError{Reason: ReasonThrottledAddr, Throttled: true}
	case ThrottledByName:
		return "", User{}, &LoginError{Reason: ReasonThrottledName, Throttled: true}
	}
	tok, u, err := s.login(ctx, name, password, trusted)
	var le *LoginError
	if err == nil || !errors.As(err, &le) {
		// A success, or the server's own failure, spends nothing. A login refused because
		// every hash slot was busy does spend: a flood from many addresses kept the slots
		// busy without ever emptying a bucket, since each refusal gave its token back.
		s.throttle.Return(addr, name, trusted)
	}
	return tok, u, err
}

// loginRow reads the account of a name for a login, or a decoy row when there is none: both
// paths read one row of the same columns (an unknown name was answered 3 ms sooner than a
// known one, over HTTP, when only the known name's row was read), and both then hash.
const loginRow = `SELECT coalesce(u.name, ''), coalesce(u.role, ''), coalesce(u.district, ''), coalesce(u.school, ''),
	coalesce(u.disabled, false), coalesce(u.created_at, TIMESTAMP '2000-01-01'), coalesce(u.password_changed_at, TIMESTAMP '2000-01-01'),
	coalesce(u.password_hash, ?), u.name IS NOT NULL
	FROM (SELECT ?::VARCHAR AS name) q LEFT JOIN users u ON u.name = q.name`

func (s *Store) login(ctx context.Context, name, password string, trusted bool) (string, User, error) {
	var hash string
	var known bool
	var u User
	var role string
	err := s.db.QueryRowContext(ctx, loginRow, dummyHash, name).
		Scan(&u.Name, &role, &u.District, &u.School, &u.Disabled, &u.CreatedAt, &u.PasswordChangedAt, &hash, &known)
	if err != nil {
		return "", User{}, fmt.Errorf("auth: %w", err)
	}
	u.Role = Role(role)
	if len(name) > maxLoginNameBytes || len(password) > maxLoginPasswordByte {
		known = false // no account has such a name; such a password was never set
	}
	if !known {
		hash = dummyHash // an unknown name costs the same time as a wrong password
	}
	ok, err := s.checkPassword(ctx, hash, password, trusted)
	if err != nil {
		return "", User{}, err
	}
	switch {
	case !known:
		return "", User{}, &LoginError{Reason: ReasonUnknownName}
	case u.Disabled && !ok:
		return "", u, &LoginError{Reason: ReasonDisabled}
	case u.Disabled:
		return "", u, &LoginError{Reason: ReasonDisabledRight}
	case !ok:
		return "", u, &LoginError{Reason: ReasonWrongPassword}
	}
	now := s.now()
	tok := randomToken(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, now); err != nil {
		return "", u, fmt.Errorf("auth: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions VALUES (?, ?, ?, ?)`, hashToken(tok), name, now, now.Add(s.policy.SessionTTL)); err != nil {
		return "", u, fmt.Errorf("auth: %w", err)
	}
	return tok, u, nil
}

// checkPassword hashes in one of the hash slots (a trusted device's login also in one of
// the trusted slots), waiting at most HashWait for one.
func (s *Store) checkPassword(ctx context.Context, hash, password string, trusted bool) (bool, error) {
	wait := time.NewTimer(s.policy.HashWait)
	defer wait.Stop()
	var reserved chan struct{} // nil unless trusted: a nil channel is never ready
	if trusted {
		reserved = s.trusted
	}
	var slot chan struct{}
	select {
	case s.hashing <- struct{}{}:
		slot = s.hashing
	case reserved <- struct{}{}:
		slot = reserved
	case <-wait.C:
		return false, &LoginError{Reason: ReasonHashingBusy}
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-slot }()
	return CheckPassword(hash, password), nil
}

// Unlock clears a name's login throttling in this process, and any lock an earlier version
// of tisheng recorded on the account. It returns the addresses whose buckets it cleared:
// those the name failed from, and those whose own bucket (others' failures behind the same
// NAT) refused it.
func (s *Store) Unlock(ctx context.Context, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE name = ?`, name)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w：%s", ErrNoUser, name)
	}
	return s.throttle.Forget(name, s.now()), nil
}

// Throttled counts the addresses from which a name cannot try to log in now.
func (s *Store) Throttled(name string) int { return s.throttle.Limited(name, s.now()) }

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hashToken(token)
	delete(s.cache, "s"+h)
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h)
	return err
}

// Session returns the user of a live session.
func (s *Store) Session(ctx context.Context, token string) (User, error) {
	if token == "" || len(token) > 128 {
		return User{}, ErrNoSession
	}
	h := hashToken(token)
	now := s.now()
	if u, ok := s.fromCache("s"+h, now); ok {
		return u, nil
	}
	var exp time.Time
	u, err := scanUser(&scanPlus{row: s.db.QueryRowContext(ctx, `SELECT `+userColsU+`, s.expires_at
		FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?`, h), extra: &exp})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNoSession
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: %w", err)
	}
	if !now.Before(exp) || u.Disabled {
		return User{}, ErrNoSession
	}
	s.toCache("s"+h, cached{user: u, exp: exp, at: now})
	return u, nil
}

// TokenPrefix starts every API token, so that a leaked one is recognisable.
const TokenPrefix = "tsk_"

// AddToken makes an API token for a user; it is shown once and stored only as a hash.
func (s *Store) AddToken(ctx context.Context, name string) (id, token string, err error) {
	u, err := s.User(ctx, name)
	if err != nil {
		return "", "", err
	}
	if u.Disabled {
		return "", "", fmt.Errorf("%w：%s", ErrDisabled, name)
	}
	id = randomHex(6)
	token = TokenPrefix + id + "_" + randomToken(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.db.ExecContext(ctx, `INSERT INTO api_tokens VALUES (?, ?, ?, ?, false)`, id, name, hashToken(token), s.now())
	if err != nil {
		return "", "", fmt.Errorf("auth: %w", err)
	}
	return id, token, nil
}

// Token is an API token as listed (never the secret).
type Token struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
}

// Tokens lists the API tokens.
func (s *Store) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token_id, user_name, created_at, revoked FROM api_tokens ORDER BY created_at`)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer rows.Close()
	var ts []Token
	for rows.Next() {
		var t Token
		if err := rows.Scan(&t.ID, &t.User, &t.CreatedAt, &t.Revoked); err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// RevokeToken stops a token from working.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked = true WHERE token_id = ?`, id)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("没有这个令牌：%s", id)
	}
	s.cache = map[string]cached{}
	return nil
}

// TokenUser returns the user of a live API token.
func (s *Store) TokenUser(ctx context.Context, token string) (User, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 128 {
		return User{}, ErrNoSession
	}
	h := hashToken(token)
	now := s.now()
	if u, ok := s.fromCache("t"+h, now); ok {
		return u, nil
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColsU+`
		FROM api_tokens t JOIN users u ON u.name = t.user_name WHERE t.token_hash = ? AND NOT t.revoked`, h))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNoSession
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: %w", err)
	}
	if u.Disabled {
		return User{}, ErrNoSession
	}
	s.toCache("t"+h, cached{user: u, at: now})
	return u, nil
}

func (s *Store) fromCache(k string, now time.Time) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[k]
	if !ok || now.Sub(c.at) > cacheFor || (!c.exp.IsZero() && !now.Before(c.exp)) {
		return User{}, false
	}
	return c.user, true
}

func (s *Store) toCache(k string, c cached) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 10000 {
		s.cache = map[string]cached{}
	}
	s.cache[k] = c
}

type scanPlus struct {
	row   *sql.Row
	extra any
}

func (p *scanPlus) Scan(dest ...any) error { return p.row.Scan(append(dest, p.extra)...) }

// prefixed qualifies userCols with a table alias.
func prefixed(p, cols string) string {
	out := cols
	for _, c := range []string{"name", "role", "district", "school", "disabled", "created_at", "password_changed_at"} {
		out = regexp.MustCompile(`\b`+c+`\b`).ReplaceAllString(out, p+c)
	}
	return out
}

// Argon2id parameters: OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id and a random salt, in the PHC string form.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return hashWith(pw, salt)
}

func hashWith(pw string, salt []byte) (string, error) {
	k := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(k)), nil
}

// CheckPassword compares a password with a stored argon2id hash in constant time.
func CheckPassword(stored, pw string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// GeneratePassword makes a random password: 26 characters of base32 (130 bits).
func GeneratePassword() string { return rand.Text() }

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}
