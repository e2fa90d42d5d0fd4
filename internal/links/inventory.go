package links

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
)

// Link is a data link as read back from a local database's catalog.
type Link struct {
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

	meta   linkMeta
	record LinkRecord
}

// Support says whether links can be made in a database by pglinks' role.
type Support struct {
	OK            bool
	Reason        string // why not, when !OK
	Role          string
	Superuser     bool
	ServerVersion string
}

// DatabaseStatus is one card of the inventory.
type DatabaseStatus struct {
	DB        *Database
	Reachable bool
	Error     string // why it is unreachable or unreadable
	Support   Support
	Links     []Link
	// Unrecorded names foreign servers that carry a pglinks comment but
	// match none of pglinks' records: not links, and never managed here.
	Unrecorded []string
	// Stale compares each link (by name) with its remote's config var.
	Stale map[string]*StaleReport
	// AsOf is when this status was read.
	AsOf time.Time
	// FailingSince and RetryAt are set while the database does not
	// answer: since when, and when pglinks asks it again.
	FailingSince, RetryAt time.Time
	// Connect lists the Heroku Connect schemas found here.
	Connect []connect.Schema
}

// Status reads one database's support and links.
func (s *Service) Status(ctx context.Context, d *Database) DatabaseStatus {
	recs, err := s.records(ctx, d.ConfigVar)
	return s.status(ctx, d, recs, err)
}

// status reads one database. Concurrent reads of the same database (many
// people loading the inventory at once) share one read.
func (s *Service) status(ctx context.Context, d *Database, recs map[string]LinkRecord, recErr error) DatabaseStatus {
	if d.ConfigErr != nil {
		return DatabaseStatus{DB: d, Error: d.ConfigErr.Error()}
	}
	ch := s.statusFlight.DoChan(d.ConfigVar, func() (any, error) {
		// Detached from any one caller, so a caller that leaves does not
		// fail the read for the others; bounded by StatusTimeout.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.StatusTimeout)
		defer cancel()
		return s.readStatus(rctx, d, recs, recErr), nil
	})
	select {
	case r := <-ch:
		return r.Val.(DatabaseStatus)
	case <-ctx.Done():
		return DatabaseStatus{DB: d, Error: "is unreachable: no answer in time"}
	}
}

func (s *Service) readStatus(ctx context.Context, d *Database, recs map[string]LinkRecord, recErr error) DatabaseStatus {
	st := DatabaseStatus{DB: d}
	conn, err := s.acquireFrom(ctx, d, statusPool)
	if err != nil {
		st.Error = errs.MessageOf(err)
		return st
	}
	defer func() {
		if conn != nil {
			conn.Release()
		}
	}()
	st.Reachable = true
	if st.Support, err = readSupport(ctx, conn.Conn()); err != nil {
		if isTimeout(err) {
			// It accepted the connection, then did not answer.
			conn.Release()
			s.discardPool(d, statusPool)
			conn = nil
			st.Reachable = false
			st.Error = d.ConfigVar + " (" + d.ResourceName + ") accepted the connection but did not answer in time"
			return st
		}
		st.Error = "could not read the catalog: " + err.Error()
		return st
	}
	st.Connect = s.readConnect(ctx, conn.Conn(), d)
	if recErr != nil {
		st.Error = "could not check pglinks' records of its links: " + errs.MessageOf(recErr)
		return st
	}
	if st.Links, st.Unrecorded, err = readLinks(ctx, conn.Conn(), d, nil, recs); err != nil {
		st.Error = "could not read the links: " + err.Error()
		return st
	}
	if len(st.Links) > 0 {
		if st.Stale, err = s.staleInDatabase(ctx, conn.Conn(), st.Links); err != nil {
			s.Log.Warn("stale check", "local", d.ConfigVar, "err", err)
		}
	}
	return st
}

func readSupport(ctx context.Context, conn *pgx.Conn) (Support, error) {
	var sup Support
	var installed, available, usage, canCreate bool
	err := conn.QueryRow(ctx, sqlSupport).Scan(&sup.Role, &sup.Superuser, &installed, &available, &usage, &canCreate, &sup.ServerVersion)
	if err != nil {
		return sup, fmt.Errorf("links: support: %w", err)
	}
	switch {
	case !installed && !available:
		sup.Reason = "postgres_fdw is not available on this server, so data links cannot be made here."
	case !installed && !sup.Superuser:
		sup.Reason = fmt.Sprintf("postgres_fdw is not installed in this database and role %s cannot install it. A superuser can run: CREATE EXTENSION postgres_fdw; GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO %s;", sup.Role, ident(sup.Role))
	case installed && !usage:
		sup.Reason = fmt.Sprintf("Role %s lacks USAGE on the foreign data wrapper postgres_fdw. A superuser can run: GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO %s;", sup.Role, ident(sup.Role))
	case !canCreate:
		sup.Reason = fmt.Sprintf("Role %s cannot create schemas in this database (no CREATE privilege on it).", sup.Role)
	default:
		sup.OK = true
	}
	return sup, nil
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
func readLinks(ctx context.Context, q querier, local *Database, name *string, recs map[string]LinkRecord) (out []Link, unrecorded []string, err error) {
	return readLinksUpTo(ctx, q, local, name, recs, nil)
}

// readLinksUpTo is readLinks with each link's TableCount counted up to
// countLimit at most (nil: exact).
func readLinksUpTo(ctx context.Context, q querier, local *Database, name *string, recs map[string]LinkRecord, countLimit *int) (out []Link, unrecorded []string, err error) {
	rows, err := q.Query(ctx, sqlLinks, name, countLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("links: list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			srvOID, nspOID                     uint32
			srvName, srvComment, schemaComment string
			options                            []string
			hasSchema                          bool
			count                              int
		)
		if err := rows.Scan(&srvOID, &nspOID, &srvName, &srvComment, &options, &hasSchema, &schemaComment, &count); err != nil {
			return nil, nil, fmt.Errorf("links: list: %w", err)
		}
		m, ok := parseMeta(srvComment)
		rec, recorded := recs[m.ID]
		if !ok || m.Link != srvName || !recorded || rec.Name != srvName || rec.ServerOID != srvOID || rec.LocalConfigVar != local.ConfigVar {
			unrecorded = append(unrecorded, srvName)
			continue
		}
		sm, sok := parseMeta(schemaComment)
		l := Link{
			Name:               srvName,
			LocalConfigVar:     local.ConfigVar,
			ServerName:         srvName,
			CreatedAt:          rec.CreatedAt,
			CreatedBy:          rec.CreatedBy,
			RemoteConfigVar:    rec.RemoteConfigVar,
			RemoteResourceName: rec.RemoteResourceName,
			RemoteSchema:       rec.RemoteSchema,
			TableCount:         count,
			SchemaMissing:      !hasSchema || nspOID != rec.SchemaOID || !sok || sm.ID != rec.ID,
			Tables:             rec.Tables,
			CopiedTypes:        rec.CopiedTypes,
			meta:               m,
			record:             rec,
		}
		for _, o := range options {
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
	return out, unrecorded, rows.Err()
}

// GetLink reads one link of a local database.
func (s *Service) GetLink(ctx context.Context, localVar, name string) (*Link, error) {
	var link *Link
	err := s.withLink(ctx, localVar, name, func(ctx context.Context, conn *pgxpool.Conn, local *Database, l *Link) error {
		link = l
		return nil
	})
	return link, err
}

// withLink reads one link of a local database and runs fn on the same
// connection, within ReadTimeout: a link page costs one connection, not
// one for the link and another for its tables.
func (s *Service) withLink(ctx context.Context, localVar, name string, fn func(context.Context, *pgxpool.Conn, *Database, *Link) error) error {
	local, err := s.database(localVar, "local")
	if err != nil {
		return err
	}
	if err := ValidateName(name); err != nil {
		return errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	ctx, cancel := bound(ctx, s.ReadTimeout)
	defer cancel()
	conn, err := s.acquire(ctx, local)
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
func readError(d *Database, err error) error {
	if isTimeout(err) {
		return errs.Wrap(errs.Unavailable, err, "%s (%s) did not answer in time. Try again in a moment.", d.ConfigVar, d.ResourceName)
	}
	return err
}
