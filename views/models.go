// Package views holds the templ components of pglinks and the view models
// they render. Components never query anything: handlers build the models.
package views

import (
	"net/url"
	"time"

	"github.com/a-h/templ"
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

// LinkPath is the URL of a link's page.
func LinkPath(localVar, name string) string {
	return "/databases/" + url.PathEscape(localVar) + "/links/" + url.PathEscape(name)
}

// DatabaseAnchor is the id of a database's card on the inventory, so
// breadcrumbs can point at it (/#db-DATABASE_URL).
func DatabaseAnchor(configVar string) string { return "db-" + configVar }

// DatabasePath is the inventory scrolled to one database's card.
func DatabasePath(configVar string) string { return "/#" + DatabaseAnchor(configVar) }

// AuditPathFor is the audit trail filtered to one target.
func AuditPathFor(target string) string { return "/audit?target=" + url.QueryEscape(target) }

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

// LinkPage shows one link and its foreign tables.
type LinkPage struct {
	Page
	Link   *links.Link
	Local  *links.Database
	Tables []links.ForeignTable
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
	// Remotes and Locals are the lists to pick from; Existing feeds the
	// duplicate-link warning, Duplicates names the links already there
	// when the server asks to confirm one more.
	Remotes, Locals []DBChoice
	Existing        []ExistingLink
	Duplicates      []string
	// Suggestion is a valid name derived from a refused one.
	Suggestion string
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
	NextBefore int64  // id for the "older" page, 0 when none
	From, To   string // date range as typed, YYYY-MM-DD
	Errors     FormErrors
	Query      string // the filter as a URL query, for the older and CSV links
}

// UsersPage lists users and the add-user form.
type UsersPage struct {
	Page
	Users  []auth.User
	Email  string
	Role   string
	Errors FormErrors
}

// AccountPage is the signed-in user's own page: change password.
type AccountPage struct {
	Page
	LastSignIn string
	Errors     FormErrors
}

// RemoveUserPage confirms removing a user.
type RemoveUserPage struct {
	Page
	User auth.User
}
