package reports

import "io"

// AdminData is what the 管理 page lists.
type AdminData struct {
	Users   []AdminUser
	Tokens  []AdminToken
	Audit   []AdminAudit
	Subs    SubscriptionsData // subscriptions.go
	Backups AdminBackups
}

// AdminBackups is the 管理 page's 备份 section: where backups go, when, and those there.
type AdminBackups struct {
	Dir, Schedule string // Dir "": the server takes no backups
	Keep          int
	List          []AdminBackup
	Error         string // the directory cannot be read
}

// AdminBackup is one backup as listed.
type AdminBackup struct {
	Name, Path, Created, Reason, Size string
	Batches                           int
	OK                                bool // verified; else failed, with Error
	Error                             string
}

// AdminUser is an account as listed.
type AdminUser struct {
	Name, Role, Scope, State, Created string
	Disabled, Throttled               bool
}

// AdminToken is an API token as listed (never its secret).
type AdminToken struct {
	ID, User, Created string
	Revoked           bool
}

// AdminAudit is one audit line as listed.
type AdminAudit struct {
	At, User, Scope, Action, Object string
	Rows, MS                        int64
	OK                              bool
	Detail, Remote                  string
}

// RenderAdmin renders the 管理 page.
func (rp *Reports) RenderAdmin(w io.Writer, pg *Page, d AdminData) error {
	return rp.tpl.ExecuteTemplate(w, "admin", struct {
		*Page
		Data AdminData
	}{pg, d})
}
