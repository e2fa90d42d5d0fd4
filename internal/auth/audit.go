package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Audit actions. Keep the list closed so the audit page can filter on it.
const (
	ActionLogin              = "login"
	ActionLoginFailed        = "login_failed"
	ActionLogout             = "logout"
	ActionLinkCreate         = "link_create"
	ActionLinkCreateRefused  = "link_create_refused"
	ActionLinkDestroy        = "link_destroy"
	ActionLinkDestroyRefused = "link_destroy_refused"
	ActionLinkRepair         = "link_repair"
	ActionLinkRepairRefused  = "link_repair_refused"
	ActionLinkRefresh        = "link_refresh"
	ActionLinkRefreshRefused = "link_refresh_refused"
	ActionLinkImportTables   = "link_import_tables" // more remote tables into a LIMIT TO link
	ActionLinkImportRefused  = "link_import_tables_refused"
	ActionQueryCheck         = "query_check"         // a SELECT over a link checked (or run with EXPLAIN ANALYZE); DDL holds the statement
	ActionQueryCheckRefused  = "query_check_refused" // refused: not a read-only SELECT, timed out, volatile function
	ActionLinkOption         = "link_option"         // a postgres_fdw option of a link changed
	ActionLinkOptionRefused  = "link_option_refused"
	ActionLinkAnalyze        = "link_analyze" // ANALYZE of a link's foreign tables
	ActionUserAdd            = "user_add"
	ActionUserRemove         = "user_remove"
	ActionUserSetRole        = "user_set_role"
	ActionPasswordReset      = "password_reset"  // an admin set a new generated password
	ActionPasswordChange     = "password_change" // a user changed their own password
	ActionTokenCreate        = "token_create"    // a user made an API token
	ActionTokenRevoke        = "token_revoke"    // its owner or an admin revoked one
	// ActionLinkConnectionsEnd: the connections local sessions held
	// through a link were ended on its remote.
	ActionLinkConnectionsEnd        = "link_connections_end"
	ActionLinkConnectionsEndRefused = "link_connections_end_refused"
	// ActionDenied is a change refused before it reached the domain: a
	// viewer posting to an admin route, or a missing or wrong CSRF token.
	ActionDenied = "denied"
)

// Replication changes; refusals (typed-name mismatch, privileges, active
// slot) are recorded under ActionReplicationRefused.
const (
	ActionSubscriptionEnable  = "subscription_enable"
	ActionSubscriptionDisable = "subscription_disable"
	ActionSubscriptionDrop    = "subscription_drop"
	ActionSlotDrop            = "slot_drop"
	ActionPublicationCreate   = "publication_create"
	ActionSubscriptionCreate  = "subscription_create"
	ActionReplicationRefused  = "replication_refused"
)

// Actions lists every audit action, for filters in the UI.
var Actions = []string{
	ActionLogin, ActionLoginFailed, ActionLogout,
	ActionLinkCreate, ActionLinkCreateRefused, ActionLinkDestroy, ActionLinkDestroyRefused,
	ActionLinkRepair, ActionLinkRepairRefused,
	ActionLinkRefresh, ActionLinkRefreshRefused,
	ActionLinkImportTables, ActionLinkImportRefused,
	ActionQueryCheck, ActionQueryCheckRefused, ActionLinkOption, ActionLinkOptionRefused, ActionLinkAnalyze,
	ActionLinkConnectionsEnd, ActionLinkConnectionsEndRefused,
	ActionUserAdd, ActionUserRemove, ActionUserSetRole, ActionDenied,
	ActionSubscriptionEnable, ActionSubscriptionDisable, ActionSubscriptionDrop, ActionSlotDrop, ActionReplicationRefused,
	ActionPublicationCreate, ActionSubscriptionCreate,
	ActionPasswordReset, ActionPasswordChange,
	ActionTokenCreate, ActionTokenRevoke,
}

// Audit outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused" // pglinks said no (wrong confirmation, not allowed)
	OutcomeFailed  = "failed"  // it was tried and went wrong
)

// Audit listing limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditEntry is one row of the audit trail: who did what to which target,
// how it ended and the DDL that ran.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string // email of the user, or "" before sign-in
	Action     string // one of the Action constants
	Target     string // e.g. "DATABASE_URL/analytics" or a user's email
	Outcome    string // OutcomeOK, OutcomeRefused or OutcomeFailed
	Detail     string
	DDL        string
	RemoteAddr string
}

// MaxAuditDetail and MaxAuditDDL bound an audit entry's detail and SQL, in
// characters: the SQL of a create of thousands of tables fits; a remote's
// megabyte error quoted in a detail does not.
const (
	MaxAuditDetail = 16 << 10
	MaxAuditDDL    = 1 << 20
)

// Record appends e to the audit trail. Every text field goes through
// fleet.MaskSecrets first, so a password that slipped into DDL, an error message
// or a URL is never stored. Detail and DDL are cut at MaxAuditDetail and
// MaxAuditDDL. At defaults to now.
func (s *Store) Record(ctx context.Context, e AuditEntry) (rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	if strings.TrimSpace(e.Action) == "" {
		return errors.New("auth: record audit entry: empty action")
	}
	switch e.Outcome {
	case OutcomeOK, OutcomeRefused, OutcomeFailed:
	default:
		return fmt.Errorf("auth: record audit entry: unknown outcome %q", e.Outcome)
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	// An entry quotes what databases said and the SQL that ran: bounded,
	// whatever a remote sent (the audit page reads rows whole).
	e.Detail, e.DDL = fleet.Clip(e.Detail, MaxAuditDetail), fleet.Clip(e.DDL, MaxAuditDDL)
	_, err := s.pool.Exec(ctx,
		`INSERT INTO pglinks.audit (at, actor, action, target, outcome, detail, ddl, remote_addr)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.At, fleet.MaskSecrets(e.Actor), e.Action, fleet.MaskSecrets(e.Target), e.Outcome,
		fleet.MaskSecrets(e.Detail), fleet.MaskSecrets(e.DDL), fleet.MaskSecrets(e.RemoteAddr))
	if err != nil {
		return fmt.Errorf("auth: record audit entry %s: %w", e.Action, err)
	}
	return nil
}

// AuditFilter narrows ListAudit. Zero values mean "any".
type AuditFilter struct {
	// Target is a case-insensitive substring of the target, or, in double
	// quotes, the whole target ("DATABASE_URL/sales" leaves out
	// DATABASE_URL/sales2).
	Target   string
	Action   string // exact action
	Limit    int    // DefaultAuditLimit when 0, at most MaxAuditLimit
	BeforeID int64  // only entries older than this id, for paging
	// Since and Until bound the time: At >= Since and At < Until, each
	// ignored when zero.
	Since, Until time.Time
}

// quotedTarget returns what is between a filter's double quotes, when the
// whole filter is quoted.
func quotedTarget(f string) (string, bool) {
	if len(f) >= 3 && strings.HasPrefix(f, `"`) && strings.HasSuffix(f, `"`) {
		return f[1 : len(f)-1], true
	}
	return "", false
}

// QuoteTarget is a filter matching target exactly.
func QuoteTarget(target string) string { return `"` + target + `"` }

// ListAudit returns audit entries newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) (_ []AuditEntry, rerr error) {
	ctx, end := s.call(ctx, &rerr)
	defer end()
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	var target, action *string
	if t := strings.TrimSpace(f.Target); t != "" {
		pattern := "%" + escapeLike(t) + "%"
		if exact, ok := quotedTarget(t); ok {
			pattern = escapeLike(exact)
		}
		target = &pattern
	}
	if f.Action != "" {
		action = &f.Action
	}
	var before *int64
	if f.BeforeID > 0 {
		before = &f.BeforeID
	}
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := s.pool.Query(ctx,
		`SELECT id, at, actor, action, target, outcome, detail, ddl, remote_addr
		 FROM pglinks.audit
		 WHERE ($1::text IS NULL OR target ILIKE $1 ESCAPE '\')
		   AND ($2::text IS NULL OR action = $2)
		   AND ($3::bigint IS NULL OR id < $3)
		   AND ($5::timestamptz IS NULL OR at >= $5)
		   AND ($6::timestamptz IS NULL OR at < $6)
		 ORDER BY id DESC
		 LIMIT $4`, target, action, before, limit, since, until)
	if err != nil {
		return nil, fmt.Errorf("auth: list audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.Outcome, &e.Detail, &e.DDL, &e.RemoteAddr)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: list audit: %w", err)
	}
	return entries, nil
}

// escapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
