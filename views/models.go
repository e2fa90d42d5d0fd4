// Package views holds the templ components of pglinks and the view models
// they render. Components never query anything: handlers build the models.
package views

import (
	"net/url"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
)

// Viewer is the signed-in user as the layout needs them.
type Viewer struct {
	Email   string
	IsAdmin bool
	CSRF    string
}

// Flash is a one-time message after a redirect.
type Flash struct {
	Kind    string // success | error
	Message string
}

// Page is what every page's layout needs.
type Page struct {
	Title   string
	Nav     string // which nav item is active
	Viewer  *Viewer
	Flashes []Flash
	// Notice is a one-time message that needs more than text (a password
	// shown once); it is shown with the flashes, above the heading.
	Notice templ.Component
}

// FormErrors maps field names to messages; "" holds a form-wide message.
type FormErrors map[string]string

// Get returns the message for field.
func (e FormErrors) Get(field string) string { return e[field] }

// Has reports whether field has a message.
func (e FormErrors) Has(field string) bool { return e[field] != "" }

func secondsSince(t time.Time) int {
	if t.IsZero() {
		return 0
	}
	return int(time.Since(t).Seconds())
}

func secondsUntil(t time.Time) int { return max(0, int(time.Until(t).Seconds()+0.5)) }

// When formats a time for tables: UTC, to the second.
func When(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// InventoryPage is the dashboard.
type InventoryPage struct {
	Page
	Databases []links.DatabaseStatus
	// ReplicationWarnings are each database's replication warnings.
	ReplicationWarnings map[string][]replication.Warning
	// Health is the cached probe of each link, by links.HealthKey.
	Health map[string]links.LinkHealth
	// ReadBy lists, per config var, the links in other databases reading it.
	ReadBy map[string][]links.Link
	// Fleet is how many databases the fleet has; Databases is the page of
	// them matching Query.
	Fleet   int
	Query   string
	Matches int
	PageNo  int
	// CardSlot, when set, stands in for card i of Databases: the handler
	// puts each card there as it rendered it once (DatabaseCard) for
	// every view until what the card shows changes.
	CardSlot func(i int) templ.Component
}

// DatabasesPerPage is how many database cards the inventory shows at once.
const DatabasesPerPage = 20

// SearchFleetFrom is the fleet size from which the inventory offers search.
const SearchFleetFrom = 10

// Pages is how many pages of cards match the query.
func (p InventoryPage) Pages() int { return max(1, (p.Matches+DatabasesPerPage-1)/DatabasesPerPage) }

// PageURL is the inventory's page n with the current query.
func (p InventoryPage) PageURL(n int) string {
	q := url.Values{}
	if p.Query != "" {
		q.Set("q", p.Query)
	}
	if n > 1 {
		q.Set("page", strconv.Itoa(n))
	}
	if len(q) == 0 {
		return "/"
	}
	return "/?" + q.Encode()
}

// LinkPage shows one link and one page of its foreign tables.
type LinkPage struct {
	Page
	Link      *links.Link
	Local     *fleet.Database
	Tables    []links.ForeignTable // this page's
	TablePage *links.TablePage
	// Health is the last probe (cached); Link.Stale compares the link
	// with its remote's config var now.
	Health links.LinkHealth
	Now    time.Time
	Drift  *links.Drift // nil when it could not be read at all
	// Connect is set when the link reads a Heroku Connect schema.
	Connect *ConnectSection
	// Conns are the connections local sessions hold through the link,
	// read on its remote; nil leaves the section out.
	Conns *links.RemoteConnections
	// Compact leaves out the column lists and the drift's details: the
	// page would be over LinkPageBytes with them.
	Compact bool
	// Perf is the Performance section (nil: PerfError says why), Checks
	// the newest saved query checks.
	Perf                   *links.Performance
	PerfError, ChecksError string
	Checks                 []links.CheckSummary
}

// TablesPerPage is how many foreign tables the link page shows at once.
const TablesPerPage = 50

// PageNo is the 1-based number of the table page shown.
func (p LinkPage) PageNo() int { return p.TablePage.Offset/p.TablePage.Limit + 1 }

// Pages is how many table pages the filter matches.
func (p LinkPage) Pages() int {
	return max(1, (p.TablePage.Matches+p.TablePage.Limit-1)/p.TablePage.Limit)
}

// TablePageURL is the link page showing table page n with the current filter.
func (p LinkPage) TablePageURL(n int) string {
	q := url.Values{}
	if p.TablePage.Filter != "" {
		q.Set("q", p.TablePage.Filter)
	}
	if n > 1 {
		q.Set("page", strconv.Itoa(n))
	}
	u := LinkPath(p.Local.ConfigVar, p.Link.Name)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u + "#tables"
}

// CreateForm is the create-link form with the user's input and errors.
type CreateForm struct {
	Page
	Databases []*fleet.Database
	Remote    string
	Local     string
	Name      string
	CopyEnums bool
	// DuplicateOK carries "create another link anyway" through a preview.
	DuplicateOK bool
	Errors      FormErrors
	// Remotes and Locals are the lists to pick from; Existing feeds the
	// duplicate-link warning, Duplicates names the links already there
	// when the server asks to confirm one more.
	Remotes, Locals []DBChoice
	Existing        []ExistingLink
	Duplicates      []string
	// Suggestion is a valid name derived from a refused one.
	Suggestion string
	CreateOptions
	// Redis are the choices for a Redis remote.
	Redis RedisForm
}

// DestroyPage is the typed-name confirmation.
type DestroyPage struct {
	Page
	Plan    *links.DestroyPlan
	Local   *fleet.Database
	Confirm string
	Errors  FormErrors
}

// ErrorPage is shown for errors that are not a form's.
type ErrorPage struct {
	Page
	Status    int
	Message   string
	RequestID string
}

// LoginPage is the sign-in form.
type LoginPage struct {
	Page
	Email string
	Next  string
	Error string
	CSRF  string
}

// AuditPage lists the audit trail.
type AuditPage struct {
	Page
	Entries    []auth.AuditEntry
	Target     string
	Action     string
	Actions    []string
	NextBefore int64  // id for the "older" page, 0 when none
	From, To   string // date range as typed, YYYY-MM-DD
	Errors     FormErrors
	Query      string // the filter as a URL query, for the older and CSV links
}

// Rows are the page's rows: sign-ins folded between the changes, unless
// the filter asks for an action (then every entry is its own row).
func (p AuditPage) Rows() []AuditRow {
	if p.Action == "" {
		return foldSignIns(p.Entries)
	}
	rows := make([]AuditRow, len(p.Entries))
	for i, e := range p.Entries {
		rows[i] = AuditRow{Entry: e}
	}
	return rows
}

// UsersPage lists users and the add-user form.
type UsersPage struct {
	Page
	Users []auth.User
	// Tokens are each user's API tokens (by user id), for admins to
	// revoke.
	Tokens map[int64][]auth.APIToken
	Email  string
	Role   string
	Errors FormErrors
}

// AccountPage is the signed-in user's own page: change password, API
// tokens.
type AccountPage struct {
	Page
	LastSignIn string
	Errors     FormErrors
	// Tokens are the user's API tokens.
	Tokens []auth.APIToken
	// NewToken is a token just made, shown this once, and its name.
	NewToken, NewTokenName string
	// TokenName and TokenExpiry are the create-token form as typed;
	// TokenErrors what was wrong with it.
	TokenName, TokenExpiry string
	TokenErrors            FormErrors
}

// TokenExpiries are the create-token form's choices: days, "" for never.
var TokenExpiries = []struct{ Days, Label string }{
	{"30", "In 30 days"}, {"90", "In 90 days"}, {"365", "In a year"}, {"7", "In 7 days"}, {"", "Never"},
}

func viewerNote(p AccountPage) string {
	if p.Viewer != nil && !p.Viewer.IsAdmin {
		return " (you are a viewer, so your tokens can only read)"
	}
	return ""
}

func tokenExpiry(t auth.APIToken) string {
	if t.ExpiresAt.IsZero() {
		return "never"
	}
	if t.Expired(time.Now()) {
		return "expired " + When(t.ExpiresAt)
	}
	return When(t.ExpiresAt)
}

// RemoveUserPage confirms removing a user.
type RemoveUserPage struct {
	Page
	User auth.User
}

// ResetPasswordPage confirms giving a user a new generated password.
type ResetPasswordPage struct {
	Page
	User auth.User
}

// NewPasswordPage is where a reset lands: the new password the first
// time, and a note that it was shown once on any later visit.
type NewPasswordPage struct {
	Page
	User  auth.User
	Shown bool // the password is in Page.Notice, this once
}

// DemoteSelfPage confirms an admin making themself a viewer.
type DemoteSelfPage struct {
	Page
	User auth.User
}

// RepairPage confirms a repair with the masked SQL it will run, or says
// why there is nothing to repair (Refusal, with Plan nil).
type RepairPage struct {
	Page
	Link    *links.Link
	Plan    *links.RepairPlan
	Local   *fleet.Database
	Refusal string
}

// ConnInfoPage shows how outside clients connect to a database.
type ConnInfoPage struct {
	Page
	Info *fleet.ConnectionInfo
}
