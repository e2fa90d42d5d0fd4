// Package views holds the templ components of pglinks and the view models
// they render. Components never query anything: handlers build the models.
package views

import (
	"net/url"
	"strconv"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
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
}

// FormErrors maps field names to messages; "" holds a form-wide message.
type FormErrors map[string]string

// Get returns the message for field.
func (e FormErrors) Get(field string) string { return e[field] }

// Has reports whether field has a message.
func (e FormErrors) Has(field string) bool { return e[field] != "" }

// LinkPath is the URL of a link's page.
func LinkPath(localVar, name string) string {
	return "/databases/" + url.PathEscape(localVar) + "/links/" + url.PathEscape(name)
}

// DestroyPath is the URL of a link's destroy confirmation.
func DestroyPath(localVar, name string) string { return LinkPath(localVar, name) + "/destroy" }

// NewLinkPath is the create form, optionally with the local preselected.
func NewLinkPath(localVar string) string {
	if localVar == "" {
		return "/links/new"
	}
	return "/links/new?local=" + url.QueryEscape(localVar)
}

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
}

// LinkPage shows one link and one page of its foreign tables.
type LinkPage struct {
	Page
	Link      *links.Link
	Local     *links.Database
	Tables    []links.ForeignTable // this page's
	TablePage *links.TablePage
	Drift     *links.Drift // nil when it could not be read at all
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
	Databases []*links.Database
	Remote    string
	Local     string
	Name      string
	CopyEnums bool
	Errors    FormErrors
	CreateOptions
}

// DestroyPage is the typed-name confirmation.
type DestroyPage struct {
	Page
	Plan    *links.DestroyPlan
	Local   *links.Database
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
	NextBefore int64 // id for the "older" page, 0 when none
}

// UsersPage lists users and the add-user form.
type UsersPage struct {
	Page
	Users  []auth.User
	Email  string
	Role   string
	Errors FormErrors
	// NewPassword is shown once after an admin adds a user without typing
	// a password.
	NewPassword string
	NewEmail    string
}
