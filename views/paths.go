package views

import (
	"net/url"
	"strconv"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
)

// Every URL a view links to, built in one place from the route patterns
// of internal/app's routes(); a test there holds each builder to the
// app's routes, and every route that takes a parameter to a builder.

// LinkPath is a link's page: GET /databases/:db/links/:name.
func LinkPath(localVar, name string) string {
	return "/databases/" + url.PathEscape(localVar) + "/links/" + url.PathEscape(name)
}

// DestroyPath is a link's destroy confirmation (GET) and the destroy (POST):
// /databases/:db/links/:name/destroy.
func DestroyPath(localVar, name string) string { return LinkPath(localVar, name) + "/destroy" }

// RepairPath is a link's repair confirmation (GET) and the repair (POST):
// /databases/:db/links/:name/repair.
func RepairPath(localVar, name string) string { return LinkPath(localVar, name) + "/repair" }

// EndConnectionsPath is the confirmation (GET) and the ending (POST) of
// the connections local sessions hold through a link, on its remote:
// /databases/:db/links/:name/connections/end.
func EndConnectionsPath(localVar, name string) string {
	return LinkPath(localVar, name) + "/connections/end"
}

// RefreshPath is a link's refresh confirmation (GET) and the refresh
// (POST): /databases/:db/links/:name/refresh.
func RefreshPath(localVar, name string) string { return LinkPath(localVar, name) + "/refresh" }

// ImportPath is a link's "import more tables" page (GET) and the import
// (POST): /databases/:db/links/:name/import.
func ImportPath(localVar, name string) string { return LinkPath(localVar, name) + "/import" }

// HealthPath is "Check now": POST /databases/:db/links/:name/check.
func HealthPath(localVar, name string) string { return LinkPath(localVar, name) + "/check" }

// DatabaseRefreshPath re-reads a database's inventory card: POST
// /databases/:db/refresh.
func DatabaseRefreshPath(localVar string) string {
	return "/databases/" + url.PathEscape(localVar) + "/refresh"
}

// ConnInfoPath is a database's connection info: GET
// /databases/:db/connection.
func ConnInfoPath(configVar string) string {
	return "/databases/" + url.PathEscape(configVar) + "/connection"
}

// DatabaseAnchor is the id of a database's card on the inventory, so
// breadcrumbs can point at it (/#db-DATABASE_URL).
func DatabaseAnchor(configVar string) string { return "db-" + configVar }

// DatabasePath is the inventory scrolled to one database's card: GET /.
func DatabasePath(configVar string) string { return "/#" + DatabaseAnchor(configVar) }

// NewLinkPath is the create form, optionally with the local preselected:
// GET /links/new.
func NewLinkPath(localVar string) string {
	if localVar == "" {
		return "/links/new"
	}
	return "/links/new?local=" + url.QueryEscape(localVar)
}

// NewLinkFromPath is the create form with a remote and its schema chosen
// (Heroku Connect's "Link it into another database"): GET /links/new.
func NewLinkFromPath(remoteVar, remoteSchema string) string {
	return "/links/new?remote=" + url.QueryEscape(remoteVar) + "&remote_schema=" + url.QueryEscape(remoteSchema)
}

// AuditPathFor is the audit trail filtered to one target: GET /audit.
func AuditPathFor(target string) string {
	return "/audit?target=" + url.QueryEscape(auth.QuoteTarget(target))
}

// auditCSVPath is the audit trail's export with the page's filters
// (query, already encoded): GET /audit.csv.
func auditCSVPath(query string) string {
	if query == "" {
		return "/audit.csv"
	}
	return "/audit.csv?" + query
}

// auditOlderPath is the audit trail's next page, entries before id
// before: GET /audit.
func auditOlderPath(query string, before int64) string {
	if query != "" {
		query += "&"
	}
	return "/audit?" + query + "before=" + strconv.FormatInt(before, 10)
}

// ReplicationPath is the replication page, optionally at a database: GET
// /replication.
func ReplicationPath(configVar string) string {
	if configVar == "" {
		return "/replication"
	}
	return "/replication#repl-" + configVar
}

// ReplicationSearchPath is the replication page searched for q: GET
// /replication?q=.
func ReplicationSearchPath(q string) string {
	if q == "" {
		return "/replication"
	}
	return "/replication?q=" + url.QueryEscape(q)
}

func objectQuery(configVar, name string) string {
	return "?db=" + url.QueryEscape(configVar) + "&name=" + url.QueryEscape(name)
}

// DropSubscriptionPath is the drop confirmation of a subscription: GET
// /replication/subscriptions/drop.
func DropSubscriptionPath(configVar, name string) string {
	return "/replication/subscriptions/drop" + objectQuery(configVar, name)
}

// DropSlotPath is the drop confirmation of a slot: GET
// /replication/slots/drop.
func DropSlotPath(configVar, name string) string {
	return "/replication/slots/drop" + objectQuery(configVar, name)
}

func userPath(id int64) string { return "/users/" + strconv.FormatInt(id, 10) }

// UserRolePath sets a user's role: POST /users/:id/role.
func UserRolePath(id int64) string { return userPath(id) + "/role" }

// UserPasswordPath confirms (GET) and makes (POST) a password reset:
// /users/:id/password.
func UserPasswordPath(id int64) string { return userPath(id) + "/password" }

// UserNewPasswordPath shows a reset's new password, once: GET
// /users/:id/password/new.
func UserNewPasswordPath(id int64) string { return UserPasswordPath(id) + "/new" }

// DemoteSelfPath confirms making yourself a viewer: GET
// /users/:id/role?role=viewer.
func DemoteSelfPath(id int64) string {
	return UserRolePath(id) + "?role=" + url.QueryEscape(string(auth.RoleViewer))
}

// UserRemovePath is a user's removal confirmation: GET /users/:id/remove.
func UserRemovePath(id int64) string { return userPath(id) + "/remove" }

// UserDeletePath removes a user: POST /users/:id/delete.
func UserDeletePath(id int64) string { return userPath(id) + "/delete" }

// UserTokenRevokePath revokes a user's API token as an admin: POST
// /users/:id/tokens/:tid/revoke.
func UserTokenRevokePath(userID, id int64) string {
	return userPath(userID) + "/tokens/" + strconv.FormatInt(id, 10) + "/revoke"
}

// TokenRevokePath revokes one of the signed-in user's API tokens: POST
// /account/tokens/:id/revoke.
func TokenRevokePath(id int64) string {
	return "/account/tokens/" + strconv.FormatInt(id, 10) + "/revoke"
}

// ConnectMessagePath is the URL of one stored message (_hc_err of a mapped
// table's row, sf_message of a _trigger_log entry) of the Connect schema a
// link reads, shown whole up to connect.MessageBytes.
func ConnectMessagePath(localVar, name, table, id string) string {
	return LinkPath(localVar, name) + "/connect/message?" + url.Values{"table": {table}, "id": {id}}.Encode()
}

// QueryCheckPath is a link's query check form (GET) and run (POST).
func QueryCheckPath(localVar, name string) string { return LinkPath(localVar, name) + "/query" }

// SavedCheckPath is one saved check of a link.
func SavedCheckPath(localVar, name string, id int64) string {
	return QueryCheckPath(localVar, name) + "/" + strconv.FormatInt(id, 10)
}

// AnalyzeCheckPath confirms (GET) and runs (POST) EXPLAIN ANALYZE of a
// saved check's statement.
func AnalyzeCheckPath(localVar, name string, id int64) string {
	return SavedCheckPath(localVar, name, id) + "/analyze"
}

// OptionPath previews (GET, with the change in the query) and applies
// (POST) a change of a link option.
func OptionPath(localVar, name string) string { return LinkPath(localVar, name) + "/options" }

// OptionPreviewPath is the preview of one change.
func OptionPreviewPath(localVar, name string, ch links.OptionChange) string {
	q := url.Values{"key": {ch.Key}, "value": {ch.Value}}
	if ch.Table != "" {
		q.Set("table", ch.Table)
	}
	return OptionPath(localVar, name) + "?" + q.Encode()
}

// AnalyzeTablesPath confirms (GET) and runs (POST) ANALYZE of a link's
// foreign tables.
func AnalyzeTablesPath(localVar, name string) string { return LinkPath(localVar, name) + "/analyze" }
