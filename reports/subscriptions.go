package reports

import "io"

// SubscriptionsData is what the subscription blocks of 管理 and of a user's own page list.
type SubscriptionsData struct {
	Action     string      // where the forms post: /admin/subscriptions or /me/subscriptions
	Self       string      // the user's own page: the recipient is this user
	Users      []string    // the recipients the admin's form offers
	Kinds      []KindLabel // the reports the form offers
	Subs       []SubscriptionView
	Deliveries []DeliveryView
	Failed     int // deliveries failed or uncertain, shown at the top of 管理
	Schedule   string
	Email      bool // a mail server is configured
	Admin      bool // may resend
	LinkTTL    string
}

// KindLabel is a report kind for a form.
type KindLabel struct{ Name, Label string }

// SubscriptionView is one subscription as listed (its destination masked).
type SubscriptionView struct {
	ID                                                       int64
	User, Report, School, Schedule, Channel, Target, Created string
	CreatedBy                                                string
	Secret                                                   bool
}

// DeliveryView is one delivery as listed.
type DeliveryView struct {
	ID                                                               int64
	Subscription                                                     int64
	Period, User, Report, Month, Scope, Channel, Target, Status, Err string
	Class                                                            string // row class: met, behind, nogate
	Attempts                                                         int
	Next, Sent, File                                                 string
	Resend                                                           bool
}

// RenderMe renders a user's own page: their subscriptions and what was delivered to them.
func (rp *Reports) RenderMe(w io.Writer, pg *Page, d SubscriptionsData) error {
	return rp.tpl.ExecuteTemplate(w, "me", struct {
		*Page
		Data SubscriptionsData
	}{pg, d})
}
