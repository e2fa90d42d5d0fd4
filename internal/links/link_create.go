package links

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// CreateRequest asks for a link from Remote into Local.
type CreateRequest struct {
	RemoteVar, LocalVar string
	Name                string // "" derives it from the remote's resource name
	RemoteSchema        string // "" means public
	CopyEnums           bool   // create enum types the local database lacks
	Actor               string // who asked, stored with the link
	// Tables, when not nil, is the LIMIT TO list: only these relations of
	// RemoteSchema are imported (and later ones are not part of the link).
	Tables []string
	// ReadOnly sets the server option updatable 'false'.
	ReadOnly bool
	// Token, from a preview (CreatePreview.Token), makes the create run
	// exactly the statements the preview showed (same link id and time in
	// the catalog comments). "" starts a fresh link.
	Token string
	// ConnectTriggerLog allows importing _trigger_log from a Heroku
	// Connect schema (read-only links only), for debugging.
	ConnectTriggerLog bool
	// RedisTables are the tables of a link from a Redis (nil: one strings
	// table named redis, every key); Writable lets INSERT, UPDATE and
	// DELETE through it reach the Redis (not transactional: a ROLLBACK
	// does not undo them). A Redis link is read-only otherwise.
	RedisTables []RedisTable
	Writable    bool
}

// CreatePreview is every statement CreateLink would run, in order,
// passwords masked, and the remote relations it would import.
type CreatePreview struct {
	Name       string
	Statements []string
	Tables     []string
	Token      string
	// Redis is what the Redis of a Redis link said through pglinks_redis
	// at the preview's pre-flight.
	Redis *fleet.RedisInfo
}

// CreateResult describes a created link.
type CreateResult struct {
	Link        Link
	Tables      int
	CopiedTypes []string
	// ExtendedTypes are local enums that got the remote's missing labels.
	ExtendedTypes []string
	// DDL is every statement that ran, passwords masked, for the audit trail.
	DDL []string

	copiedSQL []string // CopiedTypes, quoted for SQL
}

// CreateLink makes a link in one transaction: postgres_fdw if missing, a
// foreign server, a user mapping for pglinks' role, a schema named after
// the link and IMPORT FOREIGN SCHEMA into it. On any failure nothing is left
// behind.
func (s *Service) CreateLink(ctx context.Context, req CreateRequest) (*CreateResult, error) {
	return retryCollisions(ctx, "creation", req.Name, func() (*CreateResult, error) {
		res, _, err := s.createLink(ctx, req, false)
		return res, err
	})
}

// PreviewCreate works out what CreateLink would run with the same request,
// reading both databases (the local one inside a transaction that is rolled
// back) but changing nothing.
func (s *Service) PreviewCreate(ctx context.Context, req CreateRequest) (*CreatePreview, error) {
	_, p, err := s.createLink(ctx, req, true)
	return p, err
}

func (s *Service) createLink(ctx context.Context, req CreateRequest, dry bool) (*CreateResult, *CreatePreview, error) {
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Write)
	defer cancel()
	remote, err := s.database(req.RemoteVar, "remote")
	if err != nil {
		return nil, nil, err
	}
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, nil, err
	}
	if remote.ConfigVar == local.ConfigVar {
		return nil, nil, errs.E(errs.Invalid, "A database cannot be linked into itself: pick a different remote and local.").OnField("remote")
	}
	if local.IsRedis() {
		return nil, nil, errs.E(errs.Invalid, "%s is a Redis: links go into PostgreSQL databases. Choose a PostgreSQL database as the local one.", local.ConfigVar).OnField("local")
	}
	if remote.IsRedis() {
		return s.createRedisLink(ctx, req, remote, local, dry)
	}
	if req.Name == "" {
		if req.Name, err = s.defaultName(ctx, local, remote, req.RemoteSchema); err != nil {
			return nil, nil, err
		}
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, nil, err
	}
	if req.RemoteSchema == "" {
		req.RemoteSchema = "public"
	}
	if req.Tables != nil && len(req.Tables) == 0 {
		return nil, nil, errs.E(errs.Invalid, "Choose at least one table, or import all tables of the schema.").OnField("tables")
	}
	id, createdAt, previewed, err := parseToken(req.Token)
	if err != nil {
		return nil, nil, err
	}

	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, nil, err
	}
	defer done()

	// The remote is read under the link's lock, right before the plan is
	// made and compared with the preview: what waited for the lock must
	// not run against what the remote held before the wait.
	if req.Tables, err = s.checkConnectImport(ctx, remote, req); err != nil {
		return nil, nil, err
	}
	types, imported, err := s.preflightRemote(ctx, remote, req.RemoteSchema, req.Tables)
	if err != nil {
		return nil, nil, err
	}

	res := &CreateResult{}
	if err := checkNameFree(ctx, tx, local, req.Name); err != nil {
		return nil, nil, err
	}
	// The plan: postgres_fdw if missing, the enum types the link needs,
	// then the link itself.
	plan, err := ensureFDW(ctx, tx, local)
	if err != nil {
		return nil, nil, err
	}
	gaps, err := typeGaps(ctx, tx, types)
	if err != nil {
		return nil, nil, err
	}
	enums, err := copyEnums(local, gaps, req.CopyEnums, res)
	if err != nil {
		return nil, nil, err
	}
	plan = append(plan, enums...)

	var role string
	if err := tx.QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil {
		return nil, nil, fmt.Errorf("links: current_user: %w", err)
	}
	meta := linkMeta{
		Version:            1,
		ID:                 id,
		Link:               req.Name,
		CreatedAt:          createdAt,
		CreatedBy:          req.Actor,
		RemoteConfigVar:    remote.ConfigVar,
		RemoteResourceName: remote.ResourceName,
		RemoteSchema:       req.RemoteSchema,
		MappingRole:        role,
		Tables:             req.Tables,
		ReadOnly:           req.ReadOnly,
	}
	extra := s.serverOptions()
	if req.ReadOnly {
		extra = append(extra, [2]string{"updatable", "false"})
	}
	stmts, err := createStatements(req.Name, remote, meta, extra)
	if err != nil {
		return nil, nil, err
	}
	plan = append(plan, stmts...)
	shown := shownAll(plan)
	if dry {
		return nil, &CreatePreview{Name: req.Name, Statements: shown, Tables: imported, Token: makeToken(id, createdAt, planHash(shown, imported))}, nil
	}
	// A create from a preview runs what the preview showed, or nothing.
	if previewed != "" && previewed != planHash(shown, imported) {
		return nil, nil, errs.E(errs.Conflict, "What creating link %q would run changed since the preview (the remote or the local database changed). Preview the SQL again; nothing was created.", req.Name)
	}
	if res.DDL, err = s.runPlan(ctx, tx, local, remote, meta.appName(), plan, func(_ statement, err error) error {
		return s.createError(local, remote, req.Name, err)
	}); err != nil {
		return nil, nil, err
	}
	if err := checkMadeAsPlanned(ctx, tx, req.Name, imported); err != nil {
		return nil, nil, err
	}
	rec := LinkRecord{
		ID: meta.ID, LocalConfigVar: local.ConfigVar, Name: req.Name,
		RemoteConfigVar: remote.ConfigVar, RemoteResourceName: remote.ResourceName,
		RemoteSchema: req.RemoteSchema, MappingRole: role, CreatedAt: meta.CreatedAt, CreatedBy: req.Actor,
		Tables: req.Tables, ReadOnly: req.ReadOnly,
	}
	rec.CopiedTypes = res.copiedSQL
	if err := tx.QueryRow(ctx, `SELECT current_database(), s.oid, n.oid,
		(SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relnamespace = n.oid)
		FROM pg_foreign_server s, pg_namespace n WHERE s.srvname = $1 AND n.nspname = $1`, req.Name).
		Scan(&rec.LocalDatabase, &rec.ServerOID, &rec.SchemaOID, &res.Tables); err != nil {
		return nil, nil, fmt.Errorf("links: read back %s: %w", req.Name, err)
	}
	links, _, err := readLinks(ctx, tx, local, &req.Name, map[string]LinkRecord{rec.ID: rec})
	if err != nil || len(links) != 1 {
		return nil, nil, fmt.Errorf("links: read back %s: %v", req.Name, err)
	}
	// The record is written first: a link whose record could not be
	// written is not made. A record whose link did not commit is removed,
	// and would match nothing anyway (its id and oids are the link's own).
	if s.Registry == nil {
		return nil, nil, errors.New("links: no registry configured")
	}
	if err := s.Registry.AddLink(ctx, rec); err != nil {
		if fleet.PgCode(err) == codeUniqueViolation {
			return nil, nil, errs.Wrap(errs.Conflict, err, "This preview was already used to create a link. Preview again; nothing was created.")
		}
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		s.forget(ctx, rec)
		return nil, nil, s.createError(local, remote, req.Name, err)
	}
	res.Link = links[0]
	s.changed(ctx, local, req.Name)
	s.Log.Info("link created", "local", local.ConfigVar, "remote", remote.ConfigVar, "link", req.Name, "tables", res.Tables, "actor", req.Actor)
	return res, nil, nil
}

// makeToken and parseToken carry a preview's link id, creation time and
// the hash of what it showed to the create that follows it, so both render
// the same statements and the create refuses to run anything else.
func makeToken(id string, at time.Time, hash string) string {
	return id + "." + strconv.FormatInt(at.UnixMilli(), 10) + "." + hash
}

func parseToken(tok string) (id string, at time.Time, hash string, err error) {
	if tok == "" {
		return newID(), time.Now().UTC().Truncate(time.Millisecond), "", nil
	}
	stale := errs.E(errs.Invalid, "This preview can no longer be used. Preview the SQL again; nothing was created.")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", time.Time{}, "", stale
	}
	n, perr := strconv.ParseInt(parts[1], 10, 64)
	if perr != nil || !isHex(parts[0], 24) || !isHex(parts[2], 32) {
		return "", time.Time{}, "", stale
	}
	at = time.UnixMilli(n).UTC()
	if age := time.Since(at); age < -time.Minute || age > 24*time.Hour {
		return "", time.Time{}, "", stale
	}
	return parts[0], at, parts[2], nil
}

func isHex(s string, n int) bool {
	return len(s) == n && strings.Trim(s, "0123456789abcdef") == ""
}

// planHash identifies the statements and tables a preview showed.
func planHash(stmts, tables []string) string {
	h := sha256.New()
	for _, st := range stmts {
		fmt.Fprintf(h, "%s\x00", st)
	}
	h.Write([]byte{1})
	for _, t := range tables {
		fmt.Fprintf(h, "%s\x00", t)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// preflightRemote connects to the remote from pglinks itself, so an
// unreachable remote or refused credentials are told apart before anything
// is made, and reads the types its tables use.
func (s *Service) preflightRemote(ctx context.Context, remote *fleet.Database, schema string, chosen []string) ([]RemoteType, []string, error) {
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		return nil, nil, errs.Wrap(errs.Unavailable, err, "Remote %s", errs.MessageOf(err)).OnField("remote")
	}
	defer conn.Release()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regnamespace($1) IS NOT NULL", fleet.Ident(schema)).Scan(&exists); err != nil {
		return nil, nil, fmt.Errorf("links: remote schema: %w", err)
	}
	if !exists {
		return nil, nil, errs.E(errs.Invalid, "%s has no schema %q to import. Nothing was created.", remote.ConfigVar, schema).OnField("remote_schema")
	}
	have, err := remoteTables(ctx, conn.Conn(), schema)
	if err != nil {
		return nil, nil, err
	}
	imported := chosen
	if chosen != nil {
		if err := checkChosenTables(remote, schema, chosen, have); err != nil {
			return nil, nil, err
		}
	} else {
		for _, t := range have {
			imported = append(imported, t.Name)
		}
	}
	types, err := remoteTypes(ctx, conn.Conn(), schema, chosen)
	return types, imported, err
}

func checkNameFree(ctx context.Context, tx pgx.Tx, local *fleet.Database, name string) error {
	var schemaTaken, serverTaken bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
		EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = $1)`, name).Scan(&schemaTaken, &serverTaken)
	if err != nil {
		return fmt.Errorf("links: check name: %w", err)
	}
	switch {
	case serverTaken:
		return errs.E(errs.Conflict, "The name %q is taken: %s already has a foreign server with that name.", name, local.ConfigVar).OnField("name")
	case schemaTaken:
		return errs.E(errs.Conflict, "The name %q is taken: %s already has a schema with that name.", name, local.ConfigVar).OnField("name")
	}
	return nil
}

// ensureFDW plans installing postgres_fdw when it is missing; a database
// where the role cannot have it does not support links.
func ensureFDW(ctx context.Context, tx pgx.Tx, local *fleet.Database) ([]statement, error) {
	var installed bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgres_fdw')").Scan(&installed); err != nil {
		return nil, fmt.Errorf("links: check postgres_fdw: %w", err)
	}
	if installed {
		return nil, nil
	}
	return []statement{{sql: "CREATE EXTENSION IF NOT EXISTS postgres_fdw SCHEMA public", fails: func(err error) error {
		return errs.Wrap(errs.Invalid, err, "Links are not supported in %s: postgres_fdw is not installed there and pglinks' role cannot install it.", local.ConfigVar).OnField("local")
	}}}, nil
}

// copyEnums plans closing the gaps that can be closed: missing enum types
// are created and missing labels added, when the user allowed it. Anything
// else (a missing type that is not an enum, a type of another kind) is
// refused with every gap named.
func copyEnums(local *fleet.Database, gaps []typeGap, copyAllowed bool, res *CreateResult) ([]statement, error) {
	if len(gaps) == 0 {
		return nil, nil
	}
	var rest []typeGap
	for _, g := range gaps {
		if !copyAllowed || g.Kind != "enum" || g.LocalKind != "" {
			rest = append(rest, g)
		}
	}
	if len(rest) > 0 {
		onlyEnums := true
		for _, g := range rest {
			onlyEnums = onlyEnums && g.Kind == "enum" && g.LocalKind == ""
		}
		return nil, typeGapsError(local, rest, !copyAllowed && onlyEnums)
	}
	var plan []statement
	for _, g := range gaps {
		var stmts []string
		if g.Missing {
			ddl, err := enumDDL(g.RemoteType)
			if err != nil {
				return nil, err
			}
			stmts = []string{ddl}
		} else {
			var err error
			if stmts, err = addLabelsDDL(g); err != nil {
				return nil, err
			}
		}
		for _, ddl := range stmts {
			plan = append(plan, statement{sql: ddl, fails: func(err error) error {
				return errs.Wrap(errs.Invalid, err, "Could not copy enum %s into %s: %s", g.QualifiedName(), local.ConfigVar, pgMessage(err)).OnField("remote")
			}})
		}
		if g.Missing {
			res.CopiedTypes = append(res.CopiedTypes, g.QualifiedName())
			res.copiedSQL = append(res.copiedSQL, g.sqlName())
		} else {
			res.ExtendedTypes = append(res.ExtendedTypes, g.QualifiedName())
		}
	}
	return plan, nil
}

// serverOptions are the libpq options every foreign server gets besides
// where the remote is: connect_timeout bounds connecting, and TCP
// keepalives notice a remote that vanished from the network mid-statement.
func (s *Service) serverOptions() [][2]string {
	idle := max(int(s.Fleet.Deadlines.Keepalive.Seconds()), 1)
	return [][2]string{
		{"connect_timeout", fmt.Sprint(int(s.Fleet.Deadlines.RemoteConnect.Seconds()))},
		{"keepalives", "1"},
		{"keepalives_idle", fmt.Sprint(idle)},
		{"keepalives_interval", fmt.Sprint(max(idle/2, 1))},
		{"keepalives_count", "3"},
	}
}

// createStatements builds the DDL of a link. DDL takes no bind parameters:
// identifiers are quoted with pgx.Identifier and values with quoteLiteral.
func createStatements(name string, remote *fleet.Database, meta linkMeta, extra [][2]string) ([]statement, error) {
	opts := [][2]string{
		{"host", remote.Host},
		{"port", remote.Port},
		{"dbname", remote.DBName},
	}
	if remote.SSLMode != "" {
		opts = append(opts, [2]string{"sslmode", remote.SSLMode})
	}
	opts = append(opts, extra...)
	opts = append(opts, [2]string{"application_name", meta.appName()})
	serverOpts, err := optionList(opts)
	if err != nil {
		return nil, err
	}
	user, err := fleet.QuoteLiteral(remote.User)
	if err != nil {
		return nil, errs.E(errs.Invalid, "The user name in %s cannot be used: %v.", remote.ConfigVar, err)
	}
	password, err := fleet.QuoteLiteral(remote.Password())
	if err != nil {
		return nil, errs.E(errs.Invalid, "The password in %s cannot be used: %v.", remote.ConfigVar, err)
	}
	comment, _ := fleet.QuoteLiteral(meta.comment())
	id := fleet.Ident(name)
	mapping := "CREATE USER MAPPING FOR CURRENT_USER SERVER " + id + " OPTIONS (user " + user + ", password %s)"
	return []statement{
		{sql: "CREATE SERVER " + id + " FOREIGN DATA WRAPPER postgres_fdw OPTIONS (" + serverOpts + ")"},
		{sql: fmt.Sprintf(mapping, password), masked: fmt.Sprintf(mapping, "'***'")},
		{sql: "CREATE SCHEMA " + id},
		{sql: "COMMENT ON SERVER " + id + " IS " + comment},
		{sql: "COMMENT ON SCHEMA " + id + " IS " + comment},
		{sql: importStatement(meta.RemoteSchema, meta.Tables, name), remote: true},
	}, nil
}

// importStatement imports every table of the remote schema, or only
// those listed when tables is not nil.
func importStatement(remoteSchema string, tables []string, name string) string {
	limit := ""
	if tables != nil {
		q := make([]string, len(tables))
		for i, t := range tables {
			q[i] = fleet.Ident(t)
		}
		limit = " LIMIT TO (" + strings.Join(q, ", ") + ")"
	}
	return "IMPORT FOREIGN SCHEMA " + fleet.Ident(remoteSchema) + limit + " FROM SERVER " + fleet.Ident(name) + " INTO " + fleet.Ident(name)
}

func optionList(opts [][2]string) (string, error) {
	parts := make([]string, 0, len(opts))
	for _, o := range opts {
		v, err := fleet.QuoteLiteral(o[1])
		if err != nil {
			return "", errs.E(errs.Invalid, "Server option %s cannot be used: %v.", o[0], err)
		}
		parts = append(parts, o[0]+" "+v)
	}
	return strings.Join(parts, ", "), nil
}

// createError turns a failed statement into a message that says what went
// wrong and where.
func (s *Service) createError(local, remote *fleet.Database, name string, err error) error {
	switch fleet.PgCode(err) {
	case codeUniqueViolation, codeDuplicateObject, codeDuplicateSchema:
		return errs.Wrap(errs.Conflict, err, "The name %q is taken in %s.", name, local.ConfigVar).OnField("name")
	case codeLockNotAvailable:
		return errs.Wrap(errs.Conflict, err, "Another operation on %s is in progress. Try again in a moment.", local.ConfigVar)
	case codeInsufficientPriv:
		return errs.Wrap(errs.Forbidden, err, "pglinks' role in %s lacks a privilege: %s", local.ConfigVar, pgMessage(err)).OnField("local")
	}
	if e := fdwError(local, remote, err); e != err {
		return e
	}
	if fleet.IsTimeout(err) {
		return errs.Wrap(errs.Unavailable, err, "%s stopped answering while the link was being created, so pglinks gave up; nothing was created. Try again when it answers.", remote.ConfigVar).OnField("remote")
	}
	return fmt.Errorf("links: create %s in %s: %w", name, local.ConfigVar, err)
}

func pgMessage(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "ERROR: ") {
		msg = strings.TrimPrefix(msg, "ERROR: ")
	}
	if i := strings.Index(msg, " (SQLSTATE"); i > 0 {
		msg = msg[:i]
	}
	// Through postgres_fdw it is the remote's own words, as long as the
	// remote likes: every message quoting it is cut.
	return fleet.Clip(msg, MaxReasonChars)
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// checkMadeAsPlanned refuses a create whose IMPORT made other foreign
// tables than the plan named (the remote added or dropped tables in the
// moment between its read and the import): the link would hold tables
// nobody was shown. The transaction is then rolled back.
func checkMadeAsPlanned(ctx context.Context, tx pgx.Tx, name string, planned []string) error {
	var made []string
	if err := collectRows(ctx, tx, `SELECT c.relname::text FROM pg_catalog.pg_foreign_table ft
		JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
		WHERE c.relnamespace = to_regnamespace(pg_catalog.quote_ident($1)) ORDER BY 1`, []any{name}, func(r pgx.Rows) error {
		var t string
		err := r.Scan(&t)
		made = append(made, t)
		return err
	}); err != nil {
		return fmt.Errorf("links: create %s: read back its tables: %w", name, err)
	}
	want := slices.Sorted(slices.Values(planned))
	if slices.Equal(made, want) {
		return nil
	}
	var added, gone []string
	for _, t := range made {
		if !slices.Contains(want, t) {
			added = append(added, t)
		}
	}
	for _, t := range want {
		if !slices.Contains(made, t) {
			gone = append(gone, t)
		}
	}
	what := []string{}
	if len(added) > 0 {
		what = append(what, "it added "+joinMax(added, 5))
	}
	if len(gone) > 0 {
		what = append(what, "it no longer has "+joinMax(gone, 5))
	}
	return errs.E(errs.Conflict, "The remote's tables changed while link %q was being created (%s). Preview it again; nothing was created.", name, strings.Join(what, "; "))
}
