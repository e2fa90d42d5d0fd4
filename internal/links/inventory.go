package links

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgversion"
)

// Link is a data link as read back from a local database's catalog.
type Link struct {
	// Unread is set on a link known only from pglinks' records: its
	// database could not be read (ReadBy).
	Unread             bool
	Name               string
	LocalConfigVar     string
	ServerName         string // the remote name: the foreign server
	CreatedAt          time.Time
	CreatedBy          string
	RemoteConfigVar    string
	RemoteResourceName string
	RemoteSchema       string
	Host, Port, DBName string // where the foreign server points
	TableCount         int
	// TableCountAsOf is set when TableCount was counted before this read,
	// at that time: a link page remembers the count of a link larger than
	// LargeLinkTables for up to TableCountMaxAge. Zero: counted now.
	TableCountAsOf time.Time
	// SchemaMissing is set when the server is there but its schema was
	// dropped or replaced by hand.
	SchemaMissing bool
	// ReadOnly is set when the server has updatable 'false'.
	ReadOnly bool
	// Tables is the link's LIMIT TO list; nil when it imports every table
	// of RemoteSchema.
	Tables []string
	// CopiedTypes are enum types pglinks created locally for the link.
	CopiedTypes []string
	// Stale compares the link with its remote's config var, from the
	// local catalog alone; nil when it was not compared. It is how pages
	// learn whether a link is stale, whichever read made the Link.
	Stale *StaleReport
	// Kind is fleet.KindRedis for a link that reads a Redis through
	// pglinks_redis (DBName is then the Redis database number, TLS whether
	// its server connects with TLS); else it reads PostgreSQL.
	Kind fleet.Kind
	TLS  bool

	meta   linkMeta
	record LinkRecord
}

// Support says whether links can be made in a database by pglinks' role.
type Support struct {
	OK     bool
	Reason string // why not, when !OK, with the fix when there is one
	// Why is Reason without its fix; Fix is the SQL a superuser can run
	// to make links possible, one statement each ("" when there is none).
	Why           string
	Fix           []string
	Role          string
	Superuser     bool
	ServerVersion string
	// VersionNum is server_version_num (150018 for 15.18): cards show the
	// major, and catalog reads that differ by version choose by it.
	VersionNum int
}

// Major is the server's PostgreSQL major version (0 when not read).
func (s Support) Major() int { return pgversion.Major(s.VersionNum) }

// VersionNote says what pglinks supports on a server outside the tested
// range; "" on a supported one.
func (s Support) VersionNote() string { return pgversion.Note(s.VersionNum) }

// DatabaseStatus is one card of the inventory.
type DatabaseStatus struct {
	// DB is this process's own (never kept in the state database).
	DB        *fleet.Database `json:"-"`
	Reachable bool
	Error     string // why it is unreachable or unreadable
	// Cause classifies why it could not be read (fleet.Classify): the card
	// names it ("password refused", "not answering") and says pglinks
	// asks again only when that can help.
	Cause   fleet.Cause
	Support Support
	Links   []Link
	// LinksUnknown is set when the database answered but its links could
	// not be told (its catalog or pglinks' own records could not be read:
	// Error says which): Links is empty because nothing is known, not
	// because there are none.
	LinksUnknown bool
	// Recorded are the links pglinks' records say it made here, kept when
	// the database itself could not be read (ReadBy still names them).
	Recorded []RecordedLink `json:",omitempty"`
	// Unrecorded names foreign servers that carry a pglinks comment but
	// match none of pglinks' records: not links, and never managed here.
	Unrecorded []string
	// AsOf is when this status was read.
	AsOf time.Time
	// FailingSince and RetryAt are set while the database does not
	// answer: since when, and when pglinks asks it again.
	FailingSince, RetryAt time.Time
	// Connect lists the Heroku Connect schemas found here.
	Connect []connect.Schema
	// Redis is what a Redis said of itself; nil for PostgreSQL (and for
	// a Redis that did not answer).
	Redis *fleet.RedisInfo
	// RedisSupport says whether Redis links can be made in a PostgreSQL
	// database; nil when the fleet has no Redis.
	RedisSupport *RedisSupport
	// Pending is set when the database has not been read yet: its read
	// did not finish in time for this page, or waited for pglinks' own
	// connections (the cap) rather than for the database. Nothing is
	// known of it, which is not the same as unreachable.
	Pending bool
	// busy: the read could not get a connection under pglinks' cap.
	busy bool
}

func pendingStatus(d *fleet.Database, why string, at time.Time) DatabaseStatus {
	return DatabaseStatus{DB: d, Pending: true, Error: why, AsOf: at}
}

// RecordedLink is a link as pglinks' records know it, for a database that
// could not be read.
type RecordedLink struct {
	Name, RemoteConfigVar string
}

// recorded is what recs say of the links made in database d (by its
// config var and the name of the database it points at: a config var moved
// to another database does not take its links along).
func recorded(d *fleet.Database, recs map[string]LinkRecord) []RecordedLink {
	var out []RecordedLink
	for _, r := range recs {
		if r.LocalDatabase != "" && r.LocalDatabase != d.DBName {
			continue
		}
		out = append(out, RecordedLink{Name: r.Name, RemoteConfigVar: r.RemoteConfigVar})
	}
	slices.SortFunc(out, func(a, b RecordedLink) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// readStatus reads one database's card over sess: support, links
// (matched with recs) and whether they are stale, its Heroku Connect
// schemas.
func (s *Service) readStatus(ctx context.Context, sess *fleet.Session, recs map[string]LinkRecord, recErr error) DatabaseStatus {
	d := sess.D
	if d.ConfigErr != nil {
		return DatabaseStatus{DB: d, Error: d.ConfigErr.Error()}
	}
	if d.IsRedis() {
		return s.readRedisStatus(ctx, d)
	}
	st := DatabaseStatus{DB: d}
	// notConnected is the card of a database pglinks could not connect to.
	notConnected := func(err error) DatabaseStatus {
		st.Reachable, st.Error = false, errs.MessageOf(err)
		st.Recorded = recorded(d, recs)
		st.busy = fleet.IsBusy(err)
		if !st.busy {
			st.Cause = fleet.Classify(err).Cause
		}
		return st
	}
	conn, err := sess.Conn(ctx)
	if err != nil {
		return notConnected(err)
	}
	st.Reachable = true
	var (
		sup                                                  Support
		installed, available, usage, canCreate, maybeConnect bool
		cands                                                []candidateLink
	)
	readCatalog := func() error {
		return conn.QueryRow(ctx, sqlStatus).Scan(&sup.Role, &sup.Superuser, &installed, &available, &usage, &canCreate, &sup.ServerVersion, &sup.VersionNum, &maybeConnect, &cands)
	}
	err = readCatalog()
	if fleet.Ended(err) {
		// The server ended the connection while it was idle: the database
		// was not slow. Once more, on a new one.
		sess.Reopen()
		if conn, err = sess.Conn(ctx); err != nil {
			return notConnected(err)
		}
		err = readCatalog()
	}
	if err != nil {
		if fleet.IsTimeout(err) {
			// It accepted the connection, then did not answer.
			st.Reachable = false
			st.Cause = fleet.CauseTimeout
			st.Error = d.ConfigVar + " (" + d.ResourceName + ") accepted the connection but did not answer in time"
			st.Recorded = recorded(d, recs)
			sess.Broken(errs.Wrap(errs.Unavailable, err, "%s", st.Error))
			return st
		}
		st.Error = "could not read the catalog: " + err.Error()
		st.LinksUnknown = true
		st.Recorded = recorded(d, recs)
		return st
	}
	st.Support = supportOf(sup, installed, available, usage, canCreate)
	st.RedisSupport = s.readRedisSupport(ctx, conn, d, sup)
	if maybeConnect {
		st.Connect = s.readConnect(ctx, conn, d)
	}
	if recErr != nil {
		st.Error = "could not check pglinks' records of its links: " + errs.MessageOf(recErr)
		st.LinksUnknown = true
		return st
	}
	st.Links, st.Unrecorded = matchLinks(cands, d, recs)
	s.compareAll(st.Links, cands, st.Support.Role)
	return st
}

// supportOf says whether links can be made, and if not why, from what the
// status statement read.
func supportOf(sup Support, installed, available, usage, canCreate bool) Support {
	grant := "GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO " + fleet.Ident(sup.Role) + ";"
	switch {
	case !installed && !available:
		sup.Why = "postgres_fdw is not available on this server, so data links cannot be made here."
	case !installed && !sup.Superuser:
		sup.Why = fmt.Sprintf("postgres_fdw is not installed in this database and role %s cannot install it.", sup.Role)
		sup.Fix = []string{"CREATE EXTENSION postgres_fdw;", grant}
	case installed && !usage:
		sup.Why = fmt.Sprintf("Role %s lacks USAGE on the foreign data wrapper postgres_fdw.", sup.Role)
		sup.Fix = []string{grant}
	case !canCreate:
		sup.Why = fmt.Sprintf("Role %s cannot create schemas in this database (no CREATE privilege on it).", sup.Role)
	default:
		sup.OK = true
	}
	sup.Reason = sup.Why
	if len(sup.Fix) > 0 {
		sup.Reason += " A superuser can run: " + strings.Join(sup.Fix, " ")
	}
	return sup
}

// candidateLink is a postgres_fdw server carrying a pglinks comment, as the
// catalog holds it: a link only when it matches one of pglinks' records.
type candidateLink struct {
	ServerOID      uint32   `json:"server_oid"`
	SchemaOID      uint32   `json:"schema_oid"`
	Name           string   `json:"name"`
	ServerComment  string   `json:"server_comment"`
	ServerOptions  []string `json:"server_options"`
	HasSchema      bool     `json:"has_schema"`
	SchemaComment  string   `json:"schema_comment"`
	TableCount     int      `json:"table_count"`
	HasMapping     bool     `json:"has_mapping"`
	MappingOptions []string `json:"mapping_options"`
	// FDW is the server's wrapper: postgres_fdw, or pglinks_redis for a
	// Redis link.
	FDW string `json:"fdw"`
}

// matchLinks keeps the candidates matching a record of pglinks' registry
// with the same id, name, server oid and local database; the others are
// unrecorded: made by hand, copied, or forged, and never treated as links.
func matchLinks(cands []candidateLink, local *fleet.Database, recs map[string]LinkRecord) (out []Link, unrecorded []string) {
	for _, c := range cands {
		m, ok := parseMeta(c.ServerComment)
		rec, recorded := recs[m.ID]
		if !ok || m.Link != c.Name || !recorded || rec.Name != c.Name || rec.ServerOID != c.ServerOID || rec.LocalConfigVar != local.ConfigVar || !kindMatches(rec, c.FDW) {
			unrecorded = append(unrecorded, c.Name)
			continue
		}
		sm, sok := parseMeta(c.SchemaComment)
		l := Link{
			Name:               c.Name,
			LocalConfigVar:     local.ConfigVar,
			ServerName:         c.Name,
			CreatedAt:          rec.CreatedAt,
			CreatedBy:          rec.CreatedBy,
			RemoteConfigVar:    rec.RemoteConfigVar,
			RemoteResourceName: rec.RemoteResourceName,
			RemoteSchema:       rec.RemoteSchema,
			TableCount:         c.TableCount,
			SchemaMissing:      !c.HasSchema || c.SchemaOID != rec.SchemaOID || !sok || sm.ID != rec.ID,
			Tables:             rec.Tables,
			CopiedTypes:        rec.CopiedTypes,
			meta:               m,
			record:             rec,
		}
		if rec.Kind == fleet.KindRedis {
			out = append(out, redisLink(l, c.ServerOptions))
			continue
		}
		for _, o := range c.ServerOptions {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "host":
				l.Host = v
			case "port":
				l.Port = v
			case "dbname":
				l.DBName = v
			case "updatable":
				l.ReadOnly = v == "false"
			}
		}
		out = append(out, l)
	}
	return out, unrecorded
}

// querier is what readLinks needs: a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readLinks lists pglinks' links in the database: postgres_fdw servers
// whose comment names a record of pglinks' registry with the same id, name
// and server oid. name, when not nil, restricts it to one. unrecorded
// names the servers that carry a pglinks comment but match no record
// (made by hand, copied, or forged): they are never treated as links.
func readLinks(ctx context.Context, q querier, local *fleet.Database, name *string, recs map[string]LinkRecord) (out []Link, unrecorded []string, err error) {
	return readLinksUpTo(ctx, q, local, name, recs, nil)
}

// readLinksUpTo is readLinks with each link's TableCount counted up to
// countLimit at most (nil: exact).
func readLinksUpTo(ctx context.Context, q querier, local *fleet.Database, name *string, recs map[string]LinkRecord, countLimit *int) (out []Link, unrecorded []string, err error) {
	rows, err := q.Query(ctx, sqlLinks, name, countLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("links: list: %w", err)
	}
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (c candidateLink, err error) {
		err = r.Scan(&c.ServerOID, &c.SchemaOID, &c.Name, &c.ServerComment, &c.ServerOptions, &c.HasSchema, &c.SchemaComment, &c.TableCount, &c.FDW)
		return c, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("links: list: %w", err)
	}
	out, unrecorded = matchLinks(cands, local, recs)
	return out, unrecorded, nil
}

// GetLink reads one link of a local database.
func (s *Service) GetLink(ctx context.Context, localVar, name string) (*Link, error) {
	var link *Link
	err := s.withLink(ctx, localVar, name, func(ctx context.Context, conn *pgxpool.Conn, local *fleet.Database, l *Link) error {
		link = l
		return nil
	})
	return link, err
}

// withLink reads one link of a local database and runs fn on the same
// connection, within the Read deadline: a link page costs one connection, not
// one for the link and another for its tables.
func (s *Service) withLink(ctx context.Context, localVar, name string, fn func(context.Context, *pgxpool.Conn, *fleet.Database, *Link) error) error {
	local, err := s.database(localVar, "local")
	if err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Read)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, local, fleet.ClassUser)
	if err != nil {
		return err
	}
	defer conn.Release()
	recs, err := s.records(ctx, local.ConfigVar)
	if err != nil {
		return err
	}
	ls, _, err := readLinksUpTo(ctx, conn, local, &name, recs, &largeCountLimit)
	if err != nil {
		return readError(local, err)
	}
	if len(ls) == 0 {
		return errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	if err := s.countLargeLink(ctx, conn, &ls[0]); err != nil {
		return readError(local, err)
	}
	return fn(ctx, conn, local, &ls[0])
}

// readError explains a catalog read that failed: a database that stopped
// answering says so in words, anything else stays an internal error.
func readError(d *fleet.Database, err error) error {
	if fleet.IsTimeout(err) {
		return errs.Wrap(errs.Unavailable, err, "%s (%s) did not answer in time. Try again in a moment.", d.ConfigVar, d.ResourceName)
	}
	return err
}
