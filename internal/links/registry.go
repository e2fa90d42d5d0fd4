package links

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/state"
)

// LinkRecord is pglinks' own record of a link it made, kept in the state
// database, outside the databases it manages. The catalog comments on a
// link's server and schema are a convenience for people reading the
// catalog; only a record whose id and oids match the catalog makes
// something a link, because anyone with the app role of a fleet database
// can write comments.
type LinkRecord struct {
	ID                 string
	LocalConfigVar     string
	LocalDatabase      string
	Name               string
	ServerOID          uint32
	SchemaOID          uint32
	RemoteConfigVar    string
	RemoteResourceName string
	RemoteSchema       string
	MappingRole        string
	CreatedAt          time.Time
	CreatedBy          string
	// Tables is the LIMIT TO list of the link; nil means every table of
	// RemoteSchema (so tables the remote adds later belong to the link).
	Tables []string
	// ReadOnly links have the server option updatable 'false'.
	ReadOnly bool
	// CopiedTypes are the enum types pglinks created in the local database
	// for this link, as quoted schema-qualified names.
	CopiedTypes []string
	// Kind is what the link reads: fleet.KindRedis through pglinks_redis,
	// else PostgreSQL through postgres_fdw.
	Kind fleet.Kind
}

// Registry keeps the records. The state database implements it
// (NewStateRegistry); its table is created by the state database's
// migrations (internal/state/migration).
type Registry interface {
	AddLink(ctx context.Context, r LinkRecord) error
	RemoveLink(ctx context.Context, id string) error
	// Links lists the records of one local database, or of all when
	// localVar is "".
	Links(ctx context.Context, localVar string) ([]LinkRecord, error)
	// UpdateLink stores a record's table list and copied types again,
	// after a refresh.
	UpdateLink(ctx context.Context, r LinkRecord) error
}

// StateRegistry is the Registry in the state database (schema pglinks).
type StateRegistry struct {
	pool    *pgxpool.Pool
	timeout time.Duration
}

// NewStateRegistry keeps link records in the state database db, which its
// owner closes.
func NewStateRegistry(db *state.DB) *StateRegistry {
	return &StateRegistry{pool: db.Pool(), timeout: state.DefaultCallTimeout}
}

func (r *StateRegistry) AddLink(ctx context.Context, l LinkRecord) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.pool.Exec(ctx, `INSERT INTO pglinks.links (id, local_config_var, local_database, name, server_oid, schema_oid,
		remote_config_var, remote_resource_name, remote_schema, mapping_role, created_at, created_by,
		tables, read_only, copied_types, kind)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		l.ID, l.LocalConfigVar, l.LocalDatabase, l.Name, int64(l.ServerOID), int64(l.SchemaOID),
		l.RemoteConfigVar, l.RemoteResourceName, l.RemoteSchema, l.MappingRole, l.CreatedAt, l.CreatedBy,
		l.Tables, l.ReadOnly, nonNil(l.CopiedTypes), kindColumn(l.Kind))
	return stateError("record link "+l.Name, err)
}

func (r *StateRegistry) RemoveLink(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	_, err := r.pool.Exec(ctx, "DELETE FROM pglinks.links WHERE id = $1", id)
	return stateError("remove link record", err)
}

func (r *StateRegistry) Links(ctx context.Context, localVar string) ([]LinkRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	rows, err := r.pool.Query(ctx, `SELECT id, local_config_var, local_database, name, server_oid, schema_oid,
		remote_config_var, remote_resource_name, remote_schema, mapping_role, created_at, created_by,
		tables, read_only, copied_types, kind
		FROM pglinks.links WHERE $1 = '' OR local_config_var = $1 ORDER BY local_config_var, name`, localVar)
	if err != nil {
		return nil, stateError("read link records", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LinkRecord, error) {
		var l LinkRecord
		var srv, nsp int64
		var kind string
		err := row.Scan(&l.ID, &l.LocalConfigVar, &l.LocalDatabase, &l.Name, &srv, &nsp,
			&l.RemoteConfigVar, &l.RemoteResourceName, &l.RemoteSchema, &l.MappingRole, &l.CreatedAt, &l.CreatedBy,
			&l.Tables, &l.ReadOnly, &l.CopiedTypes, &kind)
		l.ServerOID, l.SchemaOID = uint32(srv), uint32(nsp)
		if kind == "redis" {
			l.Kind = fleet.KindRedis
		}
		return l, err
	})
	return out, stateError("read link records", err)
}

func (r *StateRegistry) UpdateLink(ctx context.Context, l LinkRecord) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	tag, err := r.pool.Exec(ctx, "UPDATE pglinks.links SET tables = $2, copied_types = $3 WHERE id = $1",
		l.ID, l.Tables, nonNil(l.CopiedTypes))
	if err == nil && tag.RowsAffected() != 1 {
		return fmt.Errorf("links: update link record %s: no such record", l.Name)
	}
	return stateError("update link record "+l.Name, err)
}

// kindColumn is a link kind as pglinks.links.kind holds it.
func kindColumn(k fleet.Kind) string {
	if k == fleet.KindRedis {
		return "redis"
	}
	return "postgres"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// stateError says in words that the state database did not answer.
func stateError(what string, err error) error {
	if err == nil {
		return nil
	}
	// A statement that failed in the database is a bug; anything else
	// (refused, timed out, cut) means the database did not answer.
	if code := fleet.PgCode(err); code == "" || strings.HasPrefix(code, "08") || fleet.IsTimeout(err) {
		return errs.Wrap(errs.Unavailable, err, "The state database (PGLINKS_STATE_URL) is not answering, so pglinks cannot check its records of links. Try again in a moment.")
	}
	return fmt.Errorf("links: %s: %w", what, err)
}

// recordsByID indexes records by id.
func recordsByID(recs []LinkRecord) map[string]LinkRecord {
	m := make(map[string]LinkRecord, len(recs))
	for _, r := range recs {
		m[r.ID] = r
	}
	return m
}

// records reads the records of a local database, refusing when there is
// no registry: without one nothing can be proved to be a link.
func (s *Service) records(ctx context.Context, localVar string) (map[string]LinkRecord, error) {
	if s.Registry == nil {
		return nil, errors.New("links: no registry configured")
	}
	recs, err := s.Registry.Links(ctx, localVar)
	if err != nil {
		return nil, err
	}
	return recordsByID(recs), nil
}

// forget removes a record whose link is gone (or never committed); a
// failure is logged: a record that matches nothing in the catalog is inert.
func (s *Service) forget(ctx context.Context, rec LinkRecord) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.Registry.RemoveLink(ctx, rec.ID); err != nil {
		s.Log.Warn("removing a link record", "link", rec.Name, "local", rec.LocalConfigVar, "err", err)
	}
}
