package replication

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgversion"
)

// Preflight is what pglinks checked before a create: every problem found,
// in words, and the SQL that would run. Nothing runs while Problems is not
// empty.
type Preflight struct {
	Problems []string
	SQL      []string
	// AuditSQL is SQL with passwords masked, for the audit trail and the
	// preview.
	AuditSQL []string
}

// OK reports whether the create may run.
func (p *Preflight) OK() bool { return len(p.Problems) == 0 }

func (p *Preflight) problem(format string, args ...any) {
	p.Problems = append(p.Problems, fmt.Sprintf(format, args...))
}

// Table is a table a publication can hold.
type Table struct {
	Qualified string // schema.table, quoted where needed
	Owned     bool   // pglinks' role owns it (CREATE PUBLICATION needs that)
}

// Tables lists the ordinary tables of a fleet database outside the system
// schemas, for the create-publication form.
func (s *Service) Tables(ctx context.Context, configVar string) ([]Table, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	c, err := s.conn(ctx, configVar)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	rows, err := c.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname), pg_has_role(c.relowner, 'USAGE')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1`)
	if err != nil {
		return nil, writeErr(err, "list tables", configVar)
	}
	ts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Table, error) {
		var t Table
		return t, row.Scan(&t.Qualified, &t.Owned)
	})
	if err != nil {
		return nil, writeErr(err, "list tables", configVar)
	}
	return ts, nil
}

// validName checks a publication or subscription name.
func validName(name, what string) error {
	if name == "" {
		return errs.E(errs.Invalid, "Give the %s a name.", what).OnField("name")
	}
	if len(name) > fleet.MaxIdentLen {
		return errs.E(errs.Invalid, "A %s name is at most %d bytes.", what, fleet.MaxIdentLen).OnField("name")
	}
	return nil
}

// PublicationRequest creates a publication on a fleet database.
type PublicationRequest struct {
	ConfigVar string
	Name      string
	AllTables bool
	Tables    []string // qualified names as Tables lists them
}

// PlanPublication checks a publication request against the database and
// returns its preflight.
func (s *Service) PlanPublication(ctx context.Context, req PublicationRequest) (*Preflight, error) {
	if err := validName(req.Name, "publication"); err != nil {
		return nil, err
	}
	if !req.AllTables && len(req.Tables) == 0 {
		return nil, errs.E(errs.Invalid, "Choose the tables to publish, or all tables.").OnField("tables")
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	tables, err := s.Tables(ctx, req.ConfigVar)
	if err != nil {
		return nil, err
	}
	c, err := s.conn(ctx, req.ConfigVar)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	var walLevel, role string
	var super, canCreate, exists bool
	err = c.QueryRow(ctx, `SELECT current_setting('wal_level'), current_user::text,
		coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
		has_database_privilege(current_database(), 'CREATE'),
		EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, req.Name).Scan(&walLevel, &role, &super, &canCreate, &exists)
	if err != nil {
		return nil, writeErr(err, "check the publication", req.ConfigVar)
	}
	p := &Preflight{}
	if exists {
		p.problem("A publication named %s already exists in %s.", req.Name, req.ConfigVar)
	}
	if walLevel != "logical" {
		p.problem("wal_level on %s is %q, not \"logical\": subscribers cannot read this publication until the server runs with wal_level = logical (a restart).", req.ConfigVar, walLevel)
	}
	if !super && !canCreate {
		p.problem("Role %s has no CREATE privilege on the database, which creating a publication needs.", role)
	}
	stmt := "CREATE PUBLICATION " + fleet.Ident(req.Name)
	if req.AllTables {
		if !super {
			p.problem("A publication FOR ALL TABLES needs a superuser; role %s is not one. Choose tables instead.", role)
		}
		stmt += " FOR ALL TABLES"
	} else {
		known := map[string]Table{}
		for _, t := range tables {
			known[t.Qualified] = t
		}
		for _, q := range req.Tables {
			t, ok := known[q]
			switch {
			case !ok:
				p.problem("There is no table %s in %s.", q, req.ConfigVar)
			case !t.Owned && !super:
				p.problem("Role %s does not own %s; publishing a table needs its owner.", role, q)
			}
		}
		// The names come from the catalog, quoted by format('%I.%I').
		stmt += " FOR TABLE " + strings.Join(req.Tables, ", ")
	}
	// A published table without a replica identity refuses every UPDATE
	// and DELETE from the moment the publication exists: the application
	// writing to it would break.
	var noIdent []string
	err = collectStrings(ctx, c, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE (CASE WHEN $1 THEN c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
			ELSE c.oid = ANY (SELECT to_regclass(q) FROM unnest($2::text[]) AS q) END)
		  AND NOT c.relispartition AND (`+sqlReplicaIdentity+`) = 'none' ORDER BY 1 LIMIT $3`, []any{req.AllTables, req.Tables, maxNoIdentityNamed + 1}, &noIdent)
	if err != nil {
		return nil, writeErr(err, "check the tables' replica identity", req.ConfigVar)
	}
	for i, q := range noIdent {
		if i == maxNoIdentityNamed {
			p.problem("More tables of %s have no replica identity: check every table the publication would hold.", req.ConfigVar)
			break
		}
		p.problem("The table %s has no replica identity (no primary key, no REPLICA IDENTITY index or FULL): once it is published, every UPDATE and DELETE on it fails on %s. Before publishing it, %s.", q, req.ConfigVar, noIdentityFix(q))
	}
	p.SQL = []string{stmt}
	p.AuditSQL = p.SQL
	return p, nil
}

// CreatePublication runs a publication request whose preflight is clean.
func (s *Service) CreatePublication(ctx context.Context, req PublicationRequest) (*Preflight, *Result, error) {
	defer s.changed()
	p, err := s.PlanPublication(ctx, req)
	if err != nil || !p.OK() {
		return p, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status+s.Fleet.Deadlines.ReplicationStatement)
	defer cancel()
	c, err := s.conn(ctx, req.ConfigVar)
	if err != nil {
		return p, nil, err
	}
	defer c.Release()
	if err := s.writeTx(ctx, c, p.SQL); err != nil {
		return p, nil, writeErr(err, "create publication "+req.Name, req.ConfigVar)
	}
	return p, &Result{SQL: p.SQL, Message: fmt.Sprintf("Publication %s created in %s.", req.Name, req.ConfigVar)}, nil
}

// Publications lists the publication names of a fleet database, for the
// create-subscription form.
func (s *Service) Publications(ctx context.Context, configVar string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	c, err := s.conn(ctx, configVar)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	rows, err := c.Query(ctx, `SELECT pubname::text FROM pg_publication ORDER BY 1`)
	if err != nil {
		return nil, writeErr(err, "list publications", configVar)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, writeErr(err, "list publications", configVar)
	}
	return names, nil
}

// SubscriptionRequest subscribes one fleet database to a publication of
// another.
type SubscriptionRequest struct {
	PublisherVar  string
	Publication   string
	SubscriberVar string
	Name          string
	CopyData      bool
}

// publishedTable is a published table and its published columns.
type publishedTable struct {
	schema, name string
	columns      []string
	ident        string // its replica identity on the publisher (sqlReplicaIdentity)
}

// sqlReplicaIdentity is how UPDATE and DELETE of the table whose oid is
// c.oid are published and applied: "full" (whole rows), "key" (its
// primary key), "index" (its REPLICA IDENTITY index) or "none" (no usable
// identity: a published table refuses UPDATE and DELETE, a subscriber
// table cannot apply them).
const sqlReplicaIdentity = `CASE c.relreplident
	WHEN 'f' THEN 'full'
	WHEN 'i' THEN CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid AND x.indisreplident) THEN 'index' ELSE 'none' END
	WHEN 'd' THEN CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid AND x.indisprimary) THEN 'key' ELSE 'none' END
	ELSE 'none' END`

// maxNoIdentityNamed bounds the tables without a replica identity a
// publication's preflight names (FOR ALL TABLES may cover thousands).
const maxNoIdentityNamed = 10

// noIdentityFix says how to give a table a replica identity.
func noIdentityFix(qualified string) string {
	return fmt.Sprintf("give it a primary key, or run ALTER TABLE %s REPLICA IDENTITY FULL", qualified)
}

// PlanSubscription checks both databases and names every problem before
// anything runs: wal_level, the publication, tables and columns missing on
// the subscriber, privileges on both sides, free slots and WAL senders.
func (s *Service) PlanSubscription(ctx context.Context, req SubscriptionRequest) (*Preflight, error) {
	if err := validName(req.Name, "subscription"); err != nil {
		return nil, err
	}
	if req.PublisherVar == req.SubscriberVar {
		return nil, errs.E(errs.Invalid, "Choose two different databases: a database cannot subscribe to itself.").OnField("subscriber")
	}
	pubDB, ok := s.Fleet.Get(req.PublisherVar)
	if !ok {
		return nil, errs.E(errs.Invalid, "Choose the publisher.").OnField("publisher")
	}
	if _, ok := s.Fleet.Get(req.SubscriberVar); !ok {
		return nil, errs.E(errs.Invalid, "Choose the subscriber.").OnField("subscriber")
	}
	if req.Publication == "" {
		return nil, errs.E(errs.Invalid, "Choose the publication.").OnField("publication")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.Fleet.Deadlines.Status)
	defer cancel()
	p := &Preflight{}

	// The publisher.
	pc, err := s.conn(ctx, req.PublisherVar)
	if err != nil {
		return nil, err
	}
	defer pc.Release()
	var walLevel, pubRole string
	var pubSuper, pubRepl, pubExists, slotTaken bool
	var freeSlots, freeSenders, pubVersion int
	err = pc.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_setting('wal_level'), current_user::text,
		coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
		coalesce((SELECT rolreplication FROM pg_roles WHERE rolname = current_user), false),
		EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1),
		EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $2),
		current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)::int,
		current_setting('max_wal_senders')::int - (SELECT count(*) FROM pg_stat_replication)::int`,
		req.Publication, req.Name).Scan(&pubVersion, &walLevel, &pubRole, &pubSuper, &pubRepl, &pubExists, &slotTaken, &freeSlots, &freeSenders)
	if err != nil {
		return nil, writeErr(err, "check the publisher", req.PublisherVar)
	}
	if walLevel != "logical" {
		p.problem("wal_level on the publisher %s is %q, not \"logical\": it cannot feed a subscription until it runs with wal_level = logical (a restart).", req.PublisherVar, walLevel)
	}
	if !pubExists {
		p.problem("There is no publication %s on %s.", req.Publication, req.PublisherVar)
	}
	if !pubSuper && !pubRepl {
		p.problem("The subscription connects to %s as role %s, which has neither REPLICATION nor superuser: the publisher would refuse it.", req.PublisherVar, pubRole)
	}
	if slotTaken {
		p.problem("A replication slot named %s already exists on %s; choose another subscription name or drop that slot.", req.Name, req.PublisherVar)
	}
	needSlots := 1
	if req.CopyData {
		needSlots = 2 // a table sync slot while the tables are copied
	}
	if freeSlots < needSlots {
		p.problem("Replication slots free on %s (max_replication_slots): %d; the subscription needs %d.", req.PublisherVar, max(freeSlots, 0), needSlots)
	}
	if freeSenders < needSlots {
		p.problem("WAL senders free on %s (max_wal_senders): %d; the subscription needs %d.", req.PublisherVar, max(freeSenders, 0), needSlots)
	}
	var tables []publishedTable
	if pubExists {
		// From 15 on, pg_publication_tables names the published columns
		// (column lists); before, every column is published (generated
		// columns, from 12, never are).
		columns := `t.attnames::text[]`
		if !pgversion.AtLeast(pubVersion, 15) {
			generated := ""
			if pgversion.AtLeast(pubVersion, 12) {
				generated = ` AND a.attgenerated = ''`
			}
			columns = `coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
				WHERE a.attrelid = format('%I.%I', t.schemaname, t.tablename)::regclass AND a.attnum > 0 AND NOT a.attisdropped` + generated + `), '{}')`
		}
		rows, err := pc.Query(ctx, `SELECT t.schemaname::text, t.tablename::text, `+columns+`,
				(SELECT `+sqlReplicaIdentity+` FROM pg_catalog.pg_class c WHERE c.oid = format('%I.%I', t.schemaname, t.tablename)::regclass)
			FROM pg_publication_tables t WHERE t.pubname = $1 ORDER BY 1, 2`, req.Publication)
		if err != nil {
			return nil, writeErr(err, "read the publication's tables", req.PublisherVar)
		}
		tables, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (publishedTable, error) {
			var t publishedTable
			return t, row.Scan(&t.schema, &t.name, &t.columns, &t.ident)
		})
		if err != nil {
			return nil, writeErr(err, "read the publication's tables", req.PublisherVar)
		}
		if len(tables) == 0 {
			p.problem("The publication %s on %s has no tables.", req.Publication, req.PublisherVar)
		}
	}

	// The subscriber.
	sc, err := s.conn(ctx, req.SubscriberVar)
	if err != nil {
		return nil, err
	}
	defer sc.Release()
	var version int
	var subRole string
	var subSuper, canCreateSub, subExists bool
	err = sc.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, current_user::text,
		coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
		EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()))`,
		req.Name).Scan(&version, &subRole, &subSuper, &subExists)
	if err == nil && pgversion.AtLeast(version, 16) {
		// 16 added the role that lets others than superusers subscribe.
		err = sc.QueryRow(ctx, `SELECT pg_has_role(current_user, 'pg_create_subscription', 'USAGE') AND has_database_privilege(current_database(), 'CREATE')`).Scan(&canCreateSub)
	}
	if err != nil {
		return nil, writeErr(err, "check the subscriber", req.SubscriberVar)
	}
	if !subSuper && !canCreateSub {
		if !pgversion.AtLeast(version, 16) {
			p.problem("Creating a subscription on PostgreSQL %s needs a superuser (PostgreSQL 16 lets members of pg_create_subscription do it); %s connects as %s, which is not one.", pgversion.Label(version), req.SubscriberVar, subRole)
		} else {
			p.problem("Creating a subscription needs a superuser or a member of pg_create_subscription with CREATE on the database; role %s of %s is neither.", subRole, req.SubscriberVar)
		}
	}
	conninfo, masked, err := subscriptionConnInfo(pubDB)
	if err != nil {
		return nil, err
	}
	if !subSuper && pgversion.AtLeast(version, 16) && parseKeywords(masked)["password"] == "" {
		// password_required = true, which only a superuser may turn off.
		p.problem("A subscription owned by a role that is not a superuser (%s) must log in to its publisher with a password (password_required = true), and the URL in %s carries none.", subRole, req.PublisherVar)
	}
	if subExists {
		p.problem("A subscription named %s already exists in %s.", req.Name, req.SubscriberVar)
	}
	// From 16 on the apply worker writes each table as its owner unless
	// run_as_owner is set, so the subscription's owner must be able to
	// SET ROLE to it.
	setRole := "true"
	if pgversion.AtLeast(version, 16) {
		setRole = "pg_has_role(c.relowner, 'SET')"
	}
	for _, t := range tables {
		var cols []string
		var found, canSet bool
		var owner, ident string
		err := sc.QueryRow(ctx, `SELECT true, coalesce((SELECT array_agg(a.attname::text) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
				pg_get_userbyid(c.relowner)::text, `+setRole+`, `+sqlReplicaIdentity+`
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, t.schema, t.name).Scan(&found, &cols, &owner, &canSet, &ident)
		qualified := fleet.DisplayIdent(t.schema) + "." + fleet.DisplayIdent(t.name)
		if err == pgx.ErrNoRows {
			p.problem("The published table %s is missing on %s: the schema is not replicated, create the table there first.", qualified, req.SubscriberVar)
			continue
		}
		if err != nil {
			return nil, writeErr(err, "check the subscriber's tables", req.SubscriberVar)
		}
		have := map[string]bool{}
		for _, c := range cols {
			have[c] = true
		}
		var missing []string
		for _, c := range t.columns {
			if !have[c] {
				missing = append(missing, fleet.DisplayIdent(c))
			}
		}
		if len(missing) > 0 {
			p.problem("The table %s on %s lacks published columns: %s.", qualified, req.SubscriberVar, strings.Join(missing, ", "))
		}
		if ident == "none" && (t.ident == "key" || t.ident == "index") {
			// The apply worker finds each updated or deleted row by its
			// replica identity: it would stop at the first one.
			p.problem("The table %s on %s has no replica identity (no primary key, no REPLICA IDENTITY index or FULL), while %s publishes its updates and deletes by key: the subscription would stop at the first UPDATE or DELETE. Before subscribing, %s.", qualified, req.SubscriberVar, req.PublisherVar, noIdentityFix(qualified))
		}
		if !canSet {
			p.problem("On PostgreSQL 16 and later the subscription applies changes to %s as its owner %s (run_as_owner = false), and role %s, which would own the subscription, may not SET ROLE to %s: GRANT %s TO %s, or make %s the table's owner.", qualified, fleet.DisplayIdent(owner), subRole, fleet.DisplayIdent(owner), fleet.DisplayIdent(owner), fleet.DisplayIdent(subRole), fleet.DisplayIdent(subRole))
		}
	}

	qConninfo, err := fleet.QuoteLiteral(conninfo)
	if err != nil {
		return nil, errs.E(errs.Invalid, "The URL of %s cannot be used in a subscription: %v.", req.PublisherVar, err).OnField("publisher")
	}
	qMasked, _ := fleet.QuoteLiteral(masked)
	stmt := "CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH (copy_data = %t)"
	p.SQL = []string{fmt.Sprintf(stmt, fleet.Ident(req.Name), qConninfo, fleet.Ident(req.Publication), req.CopyData)}
	p.AuditSQL = []string{fmt.Sprintf(stmt, fleet.Ident(req.Name), qMasked, fleet.Ident(req.Publication), req.CopyData)}
	return p, nil
}

// subscriptionConnInfo is the publisher's URL as the subscription will use
// it (libpq keyword/value syntax, read as libpq reads URLs), with a
// connect_timeout so the subscriber never waits for long, and the same with
// its password masked.
func subscriptionConnInfo(d *fleet.Database) (conninfo, masked string, err error) {
	conninfo, masked, err = d.LibpqConnInfo(map[string]string{"connect_timeout": "5"})
	if err != nil {
		return "", "", errs.E(errs.Invalid, "The URL in %s cannot be given to a subscription: %s.", d.ConfigVar, err.Error())
	}
	return conninfo, masked, nil
}

// CreateSubscription runs a subscription request whose preflight is clean.
// CREATE SUBSCRIPTION that creates a slot cannot run in a transaction
// block, so it is bounded by a session statement_timeout, reset after.
func (s *Service) CreateSubscription(ctx context.Context, req SubscriptionRequest) (*Preflight, *Result, error) {
	defer s.changed()
	p, err := s.PlanSubscription(ctx, req)
	if err != nil || !p.OK() {
		return p, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status+s.Fleet.Deadlines.ReplicationStatement)
	defer cancel()
	c, err := s.conn(ctx, req.SubscriberVar)
	if err != nil {
		return p, nil, err
	}
	defer c.Release()
	setTimeout := fmt.Sprintf("SET statement_timeout = %d", s.Fleet.Deadlines.ReplicationStatement.Milliseconds())
	if _, err := c.Exec(ctx, setTimeout); err != nil {
		return p, nil, writeErr(err, "create subscription "+req.Name, req.SubscriberVar)
	}
	_, err = c.Exec(ctx, p.SQL[0])
	if _, rerr := c.Exec(ctx, "RESET statement_timeout"); rerr != nil {
		c.Conn().Close(ctx)
	}
	if err != nil {
		return p, nil, writeErr(err, "create subscription "+req.Name, req.SubscriberVar)
	}
	// Created enabled: "starting" until its worker runs or Settle passes.
	s.memory().Mark(Key{req.SubscriberVar, kindSubscription, req.Name}, "enabled", s.now())
	return p, &Result{SQL: append([]string{setTimeout}, p.AuditSQL...), Message: fmt.Sprintf("Subscription %s created in %s, subscribed to %s on %s.", req.Name, req.SubscriberVar, req.Publication, req.PublisherVar)}, nil
}

// collectStrings reads a one-column query's rows into out.
func collectStrings(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args []any, out *[]string) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	*out, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}
