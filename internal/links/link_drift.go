package links

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Drift is how a link's foreign tables differ from the remote's catalog
// now: what IMPORT FOREIGN SCHEMA brought over at creation (or the last
// refresh) against what the remote holds.
type Drift struct {
	CheckedAt time.Time
	// Error says why the comparison could not be made (remote
	// unreachable, ...); the rest is empty then.
	Error string
	// NewTables are remote tables that belong to the link (every-table
	// links) but have no foreign table yet.
	NewTables []string
	// Available are remote tables a LIMIT TO link does not import: not
	// drift, shown for information.
	Available []string
	// Connect: the remote schema is a Heroku Connect schema (now). LeftOut
	// are its tables a link of every table does not take on, by the rule
	// of Connect schemas (connectRefusal): not drift either.
	Connect bool
	LeftOut []LeftOut
	// GoneTables are foreign tables whose remote table is gone.
	GoneTables []string
	Tables     []TableDrift
	Enums      []EnumDrift
	// Pending is set, and nothing else, when a large link has not been
	// compared yet and the comparison runs in the background (PageDrift).
	Pending bool
	// Remembered is set when this is the last comparison of a large link,
	// made at CheckedAt, rather than one made for this view.
	Remembered bool
}

// LeftOut is a remote table a refresh does not import, and why.
type LeftOut struct {
	Table, Why string
}

// TableDrift is one foreign table whose columns differ from the remote's.
type TableDrift struct {
	Table       string         // the foreign table (local name)
	RemoteTable string         // its remote name
	Added       []RemoteColumn // on the remote, not in the foreign table
	Gone        []Column       // in the foreign table, gone on the remote (local names)
	TypeChanged []TypeChange
}

// RemoteColumn is a column as the remote has it.
type RemoteColumn struct {
	Name, Type string
	NotNull    bool
}

// TypeChange is a column whose remote type is no longer the local one.
type TypeChange struct {
	Column, LocalType, RemoteType string
}

// EnumDrift is an enum pglinks copied for the link whose remote labels
// changed.
type EnumDrift struct {
	Type       string // quoted, schema-qualified
	NewLabels  []string
	GoneLabels []string // labels the remote no longer has (kept locally)
	RemoteGone bool     // the remote no longer has the type
}

// InStep reports whether nothing drifted.
func (d *Drift) InStep() bool {
	return d.Error == "" && !d.Pending && len(d.NewTables) == 0 && len(d.GoneTables) == 0 && len(d.Tables) == 0 && len(d.Enums) == 0
}

// Changes counts the drift items.
func (d *Drift) Changes() int {
	n := len(d.NewTables) + len(d.GoneTables) + len(d.Enums)
	for _, t := range d.Tables {
		n += len(t.Added) + len(t.Gone) + len(t.TypeChanged)
	}
	return n
}

// LinkDrift compares a link with its remote. It never fails for the
// remote's sake: an unreachable remote is reported in Drift.Error.
func (s *Service) LinkDrift(ctx context.Context, localVar, name string) (*Drift, error) {
	l, err := s.GetLink(ctx, localVar, name)
	if err != nil {
		return nil, err
	}
	local, _ := s.database(localVar, "local")
	return s.driftOf(ctx, local, l)
}

// driftOf compares l, read from local, with its remote.
func (s *Service) driftOf(ctx context.Context, local *fleet.Database, l *Link) (*Drift, error) {
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Read)
	defer cancel()
	tx, done, err := s.Fleet.Begin(ctx, local, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer done()
	if err := fleet.SetTxTimeouts(ctx, tx, s.Fleet.Deadlines.Read); err != nil {
		return nil, readError(local, err)
	}
	d, err := s.readDrift(ctx, tx, l)
	return d, readError(local, err)
}

// localTable is a foreign table of a link as the drift sees it.
type localTable struct {
	name, remoteSchema, remoteTable string
	columns                         []localColumn
}

type localColumn struct {
	name, remoteName, typ string
}

type remoteRel struct {
	name    string
	columns []RemoteColumn
}

// readDrift compares inside tx (on the local database; its search_path is
// emptied for the transaction) with the remote read over pglinks' own
// connection.
func (s *Service) readDrift(ctx context.Context, tx pgx.Tx, l *Link) (*Drift, error) {
	if l.IsRedis() {
		return nil, DoesNotApply(l, "Drift and refresh")
	}
	d := &Drift{CheckedAt: time.Now().UTC()}
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = ''"); err != nil {
		return nil, err
	}
	var locals []*localTable
	err := collectRows(ctx, tx, sqlDriftLocal, []any{fleet.Ident(l.Name), l.record.ServerOID}, func(r pgx.Rows) error {
		var t localTable
		var c localColumn
		if err := r.Scan(&t.name, &t.remoteSchema, &t.remoteTable, &c.name, &c.remoteName, &c.typ); err != nil {
			return err
		}
		if n := len(locals); n == 0 || locals[n-1].name != t.name {
			locals = append(locals, &t)
		}
		if c.name != "" {
			last := locals[len(locals)-1]
			last.columns = append(last.columns, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("links: foreign tables of %s: %w", l.Name, err)
	}
	localEnums := map[string][]string{}
	for _, typ := range l.record.CopiedTypes {
		var labels []string
		if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
			FROM pg_enum e WHERE e.enumtypid = to_regtype($1)), '{}')`, typ).Scan(&labels); err != nil {
			return nil, fmt.Errorf("links: labels of %s: %w", typ, err)
		}
		localEnums[typ] = labels
	}

	remote, err := s.database(l.RemoteConfigVar, "remote")
	if err != nil {
		d.Error = errs.MessageOf(err)
		return d, nil
	}
	rels, remoteEnums, isConnect, err := s.readRemoteShape(ctx, remote, l.RemoteSchema, l.record.CopiedTypes)
	if err != nil {
		d.Error = errs.MessageOf(err)
		return d, nil
	}

	byRemote := map[string]*remoteRel{}
	for _, r := range rels {
		byRemote[r.name] = r
	}
	imported := map[string]bool{}
	for _, t := range locals {
		if t.remoteSchema != l.RemoteSchema {
			continue // not imported from the link's schema: not compared
		}
		imported[t.remoteTable] = true
		r, ok := byRemote[t.remoteTable]
		if !ok {
			d.GoneTables = append(d.GoneTables, t.name)
			continue
		}
		td := TableDrift{Table: t.name, RemoteTable: t.remoteTable}
		remoteCols := map[string]RemoteColumn{}
		for _, c := range r.columns {
			remoteCols[c.Name] = c
		}
		have := map[string]bool{}
		for _, c := range t.columns {
			have[c.remoteName] = true
			rc, ok := remoteCols[c.remoteName]
			switch {
			case !ok:
				td.Gone = append(td.Gone, Column{Name: c.name, Type: c.typ})
			case rc.Type != c.typ:
				td.TypeChanged = append(td.TypeChanged, TypeChange{Column: c.name, LocalType: c.typ, RemoteType: rc.Type})
			}
		}
		for _, c := range r.columns {
			if !have[c.Name] {
				td.Added = append(td.Added, c)
			}
		}
		if len(td.Added)+len(td.Gone)+len(td.TypeChanged) > 0 {
			d.Tables = append(d.Tables, td)
		}
	}
	d.Connect = isConnect
	for _, r := range rels {
		switch {
		case imported[r.name]:
		case l.Tables != nil:
			d.Available = append(d.Available, r.name)
		case isConnect && connectRefusal(r.name, l.ReadOnly, false) != "":
			// A refresh has no "Also import _trigger_log" option.
			d.LeftOut = append(d.LeftOut, LeftOut{Table: r.name, Why: connectRefusal(r.name, l.ReadOnly, false)})
		default:
			d.NewTables = append(d.NewTables, r.name)
		}
	}
	for _, typ := range l.record.CopiedTypes {
		rl, ok := remoteEnums[typ]
		ll := localEnums[typ]
		e := EnumDrift{Type: typ, RemoteGone: !ok}
		for _, x := range rl {
			if !slices.Contains(ll, x) {
				e.NewLabels = append(e.NewLabels, x)
			}
		}
		if ok {
			for _, x := range ll {
				if !slices.Contains(rl, x) {
					e.GoneLabels = append(e.GoneLabels, x)
				}
			}
		}
		if e.RemoteGone || len(e.NewLabels)+len(e.GoneLabels) > 0 {
			d.Enums = append(d.Enums, e)
		}
	}
	return d, nil
}

// readRemoteShape reads the remote schema's relations and columns, the
// labels of the given enum types and whether the schema is a Heroku Connect
// schema, over pglinks' own bounded connection.
func (s *Service) readRemoteShape(ctx context.Context, remote *fleet.Database, schema string, enums []string) (rels []*remoteRel, labels map[string][]string, isConnect bool, err error) {
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Status)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, remote, fleet.ClassUser)
	if err != nil {
		return nil, nil, false, errs.Wrap(errs.Unavailable, err, "The remote %s", errs.MessageOf(err))
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, false, fleet.ConnectError(remote, err)
	}
	defer s.Fleet.Rollback(ctx, tx)
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = ''"); err != nil {
		return nil, nil, false, readError(remote, err)
	}
	err = collectRows(ctx, tx, sqlDriftRemote, []any{schema}, func(r pgx.Rows) error {
		var name string
		var c RemoteColumn
		if err := r.Scan(&name, &c.Name, &c.Type, &c.NotNull); err != nil {
			return err
		}
		if n := len(rels); n == 0 || rels[n-1].name != name {
			rels = append(rels, &remoteRel{name: name})
		}
		if c.Name != "" {
			last := rels[len(rels)-1]
			last.columns = append(last.columns, c)
		}
		return nil
	})
	if err != nil {
		if fleet.IsTimeout(err) {
			return nil, nil, false, errs.Wrap(errs.Unavailable, err, "The remote %s (%s) did not answer in time.", remote.ConfigVar, remote.ResourceName)
		}
		return nil, nil, false, fmt.Errorf("links: remote catalog of %s: %w", remote.ConfigVar, err)
	}
	labels = map[string][]string{}
	for _, typ := range enums {
		var found bool
		var ls []string
		if err := tx.QueryRow(ctx, `SELECT to_regtype($1) IS NOT NULL, coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
			FROM pg_enum e WHERE e.enumtypid = to_regtype($1)), '{}')`, typ).Scan(&found, &ls); err != nil {
			return nil, nil, false, fmt.Errorf("links: remote labels of %s: %w", typ, err)
		}
		if found {
			labels[typ] = ls
		}
	}
	found, err := connect.Detect(ctx, tx, schema)
	if err != nil {
		return nil, nil, false, readError(remote, fmt.Errorf("links: Heroku Connect schemas of %s: %w", remote.ConfigVar, err))
	}
	return rels, labels, connect.Find(found, schema) != nil, nil
}
