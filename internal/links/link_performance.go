package links

import (
	"context"
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

// A link's postgres_fdw options that change how fast queries through it
// are: what each does, what this link has, advice for it, and changing
// them with ALTER SERVER / ALTER FOREIGN TABLE ... OPTIONS under the
// link's lock. Repair changes only where and as whom the server connects,
// and refresh alters, adds and drops foreign tables in place, so both keep
// these options.

// PerfOption describes one option.
type PerfOption struct {
	Key     string
	Default string
	Kind    string // int, bool, extensions
	Table   bool   // may be set per foreign table too
	What    string
}

// PerfOptions are the options the Performance section shows and changes.
var PerfOptions = []PerfOption{
	{Key: "fetch_size", Default: "100", Kind: "int", Table: true,
		What: "Rows postgres_fdw fetches from the remote per round trip. Queries that read many rows spend most of their time in round trips at 100; 1000 to 10000 is usual for them (each batch is held in memory)."},
	{Key: "batch_size", Default: "1", Kind: "int", Table: true,
		What: "Rows per INSERT round trip (and COPY into a foreign table). At 1 a bulk insert through the link sends one row at a time; 100 or more for bulk loads. Read-only links do not insert."},
	{Key: "use_remote_estimate", Default: "false", Kind: "bool", Table: true,
		What: "Ask the remote to estimate each foreign query while planning (one more round trip per scan considered). Without it the planner uses local statistics of the foreign tables, or guesses when they were never analyzed, and may choose to join, sort and aggregate locally what the remote would do better."},
	{Key: "async_capable", Default: "false", Kind: "bool", Table: true,
		What: "Let scans of several foreign tables under one Append (partitions, UNION ALL) run on their remotes at the same time instead of one after another."},
	{Key: "extensions", Default: "", Kind: "extensions",
		What: "Extensions installed with the same version on both sides: their functions, operators and types may then be sent to the remote. Conditions using anything else that is not built in are checked locally, after the rows came over."},
	{Key: "keep_connections", Default: "true", Kind: "bool",
		What: "Keep the connection to the remote open between transactions of a session. Off, every transaction connects afresh."},
}

// perfOption returns the description of key.
func perfOption(key string) (PerfOption, bool) {
	for _, o := range PerfOptions {
		if o.Key == key {
			return o, true
		}
	}
	return PerfOption{}, false
}

// OptionChange sets one option of a link's server (Table "") or of one of
// its foreign tables; Value "" resets it to the default (DROP).
type OptionChange struct {
	Table string `json:",omitempty"`
	Key   string
	Value string
}

// Performance is the link page's Performance section.
type Performance struct {
	Server map[string]string // the options above that the server sets
	// Tables are foreign tables that set options of their own (up to
	// perfListMax); TablesWithOptions counts them all.
	Tables            []TableOptions
	TablesWithOptions int
	// Statistics of the foreign tables: how many were analyzed, and the
	// least recently analyzed ones (never first, up to perfListMax).
	TableCount, NeverAnalyzed int
	LastAnalyzed              time.Time // the most recent ANALYZE of any of them
	LargestRows               float64   // the most rows an analyzed one had
	Stats                     []TableStats
	// LocalExtensions are installed here: the values extensions may take.
	LocalExtensions []string
	Advice          []Advice
	ReadOnly        bool
	// AnalyzeTable and AnalyzeAll bound "Analyze foreign tables": each
	// table, and the whole run.
	AnalyzeTable, AnalyzeAll time.Duration
}

// TableOptions is a foreign table's own options among PerfOptions.
type TableOptions struct {
	Table   string
	Options map[string]string
}

// TableStats is when a foreign table was last analyzed (zero: not since
// the statistics were last reset) and the rows it then had (-1: never
// analyzed).
type TableStats struct {
	Table        string
	LastAnalyzed time.Time
	Rows         float64
}

// Advice is one recommendation for this link, with the change that
// follows it when there is one.
type Advice struct {
	Key    string
	Text   string
	Option *OptionChange
}

const perfListMax = 50

// fetchSizeAdviceRows is the table size from which the default fetch_size
// is worth a word.
const fetchSizeAdviceRows = 10_000

// Value is the option's value on the server, or its default.
func (p *Performance) Value(key string) (string, bool) {
	if v, ok := p.Server[key]; ok {
		return v, true
	}
	o, _ := perfOption(key)
	return o.Default, false
}

// LinkPerformance reads the Performance section of a link.
func (s *Service) LinkPerformance(ctx context.Context, l *Link) (*Performance, error) {
	local, err := s.database(l.LocalConfigVar, "local")
	if err != nil {
		return nil, err
	}
	ctx, cancel := fleet.Bound(ctx, s.Fleet.Deadlines.Read)
	defer cancel()
	conn, err := s.Fleet.Acquire(ctx, local, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	opts, err := serverOptions(ctx, conn, l.ServerName)
	if err != nil {
		return nil, readError(local, err)
	}
	p := &Performance{Server: map[string]string{}, ReadOnly: l.ReadOnly,
		AnalyzeTable: s.Fleet.Deadlines.AnalyzeTable, AnalyzeAll: s.Fleet.Deadlines.AnalyzeAll}
	for _, o := range PerfOptions {
		if v, ok := opts[o.Key]; ok {
			p.Server[o.Key] = v
		}
	}
	var last *time.Time
	err = conn.QueryRow(ctx, sqlPerfSummary, l.Name, perfKeys()).Scan(&p.TableCount, &p.NeverAnalyzed, &last, &p.TablesWithOptions, &p.LocalExtensions, &p.LargestRows)
	if err != nil {
		return nil, readError(local, fmt.Errorf("links: performance of %s: %w", l.Name, err))
	}
	if last != nil {
		p.LastAnalyzed = *last
	}
	err = collectRows(ctx, conn, sqlPerfTables, []any{l.Name, perfKeys(), perfListMax}, func(r pgx.Rows) error {
		var name string
		var own []string
		var rows float64
		var at *time.Time
		var stats bool
		if err := r.Scan(&name, &own, &rows, &at, &stats); err != nil {
			return err
		}
		if stats {
			ts := TableStats{Table: name, Rows: rows}
			if at != nil {
				ts.LastAnalyzed = *at
			}
			p.Stats = append(p.Stats, ts)
		}
		if len(own) > 0 {
			p.Tables = append(p.Tables, TableOptions{Table: name, Options: optionMap(own)})
		}
		return nil
	})
	if err != nil {
		return nil, readError(local, fmt.Errorf("links: performance of %s: %w", l.Name, err))
	}
	p.advise()
	return p, nil
}

func perfKeys() []string {
	keys := make([]string, 0, len(PerfOptions))
	for _, o := range PerfOptions {
		if o.Table {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// advise says what this link's settings and statistics call for.
func (p *Performance) advise() {
	est, _ := p.Value("use_remote_estimate")
	if est != "true" && p.NeverAnalyzed > 0 {
		p.Advice = append(p.Advice, Advice{Key: "use_remote_estimate",
			Text:   fmt.Sprintf("%d of %d foreign tables were never analyzed and use_remote_estimate is off: the planner knows nothing of their sizes, so joins and sorts over them are planned blind (it may join locally what the remote would join far faster). Turn on use_remote_estimate, or analyze the foreign tables.", p.NeverAnalyzed, p.TableCount),
			Option: &OptionChange{Key: "use_remote_estimate", Value: "true"}})
	}
	if fs, set := p.Value("fetch_size"); !set && fs == "100" && p.LargestRows >= fetchSizeAdviceRows {
		p.Advice = append(p.Advice, Advice{Key: "fetch_size",
			Text:   fmt.Sprintf("fetch_size is the default 100 and a foreign table had %.0f rows when analyzed: a query that reads it whole waits for %.0f round trips. 1000 suits links that read many rows.", p.LargestRows, p.LargestRows/100),
			Option: &OptionChange{Key: "fetch_size", Value: "1000"}})
	}
	exts, _ := p.Value("extensions")
	var unlisted []string
	for _, e := range p.LocalExtensions {
		if e != "plpgsql" && e != "postgres_fdw" && !slices.Contains(splitList(exts), e) {
			unlisted = append(unlisted, e)
		}
	}
	if len(unlisted) > 0 {
		p.Advice = append(p.Advice, Advice{Key: "extensions",
			Text: "Installed here but not in extensions: " + strings.Join(unlisted, ", ") + ". Conditions using their functions or types are checked locally. List those the remote has with the same version (a query check names the ones your queries need)."})
	}
}

// validateOption checks a change against what postgres_fdw takes, and
// that the extensions named are installed here (postgres_fdw only warns).
func validateOption(ch OptionChange, installed []string) (OptionChange, error) {
	o, ok := perfOption(ch.Key)
	if !ok {
		return ch, errs.E(errs.Invalid, "%q is not an option pglinks changes.", ch.Key).OnField("key")
	}
	if ch.Table != "" && !o.Table {
		return ch, errs.E(errs.Invalid, "%s is an option of the server only, not of a foreign table.", ch.Key).OnField("key")
	}
	ch.Value = strings.TrimSpace(ch.Value)
	if ch.Value == "" {
		return ch, nil
	}
	switch o.Kind {
	case "int":
		n, err := strconv.Atoi(ch.Value)
		if err != nil || n < 1 || n > 1_000_000 {
			return ch, errs.E(errs.Invalid, "%s must be a whole number from 1 to 1000000.", ch.Key).OnField("value")
		}
		ch.Value = strconv.Itoa(n)
	case "bool":
		switch strings.ToLower(ch.Value) {
		case "true", "on":
			ch.Value = "true"
		case "false", "off":
			ch.Value = "false"
		default:
			return ch, errs.E(errs.Invalid, "%s is true or false.", ch.Key).OnField("value")
		}
	case "extensions":
		var names []string
		for _, e := range splitList(ch.Value) {
			if !slices.Contains(installed, e) {
				return ch, errs.E(errs.Invalid, "The extension %q is not installed in this database; extensions lists extensions installed on both sides.", e).OnField("value")
			}
			if !slices.Contains(names, e) {
				names = append(names, e)
			}
		}
		ch.Value = strings.Join(names, ",")
	}
	return ch, nil
}

// OptionPlan is what changing an option would run.
type OptionPlan struct {
	Link    *Link
	Change  OptionChange
	Current string // "" when not set
	IsSet   bool
	SQL     string
	// Warnings are facts worth knowing before applying (an extension the
	// remote lacks).
	Warnings []string
}

// OptionRequest applies an option change an admin confirmed.
type OptionRequest struct {
	LocalVar, Name string
	Change         OptionChange
	Actor          string
}

// PlanOption works out the statement for a change, and runs it in a
// rolled-back savepoint under the link's lock, so PostgreSQL itself has
// accepted it before the admin confirms.
func (s *Service) PlanOption(ctx context.Context, localVar, name string, ch OptionChange) (*OptionPlan, error) {
	local, err := s.database(localVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, localVar)
	}
	var p *OptionPlan
	err = s.inPlanTx(ctx, local, name, func(ctx context.Context, tx pgx.Tx) (err error) {
		p, err = s.optionStatement(ctx, tx, local, name, ch)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SAVEPOINT pglinks_option"); err != nil {
			return err
		}
		if err := execOne(ctx, tx, p.SQL); err != nil {
			return errs.Wrap(errs.Invalid, err, "PostgreSQL refuses %s: %s.", p.SQL, pgMessage(err)).OnField("value")
		}
		_, err = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT pglinks_option")
		return err
	})
	if err != nil {
		return nil, err
	}
	if p.Change.Key == "extensions" {
		if remote, err := s.remoteExtensions(ctx, p.Link.RemoteConfigVar); err == nil {
			for _, e := range splitList(p.Change.Value) {
				if _, ok := remote[e]; !ok {
					p.Warnings = append(p.Warnings, fmt.Sprintf("%s is not installed on the remote (%s): queries whose conditions use it would fail there. Install it on the remote first.", e, p.Link.RemoteConfigVar))
				}
			}
		}
	}
	return p, nil
}

// ChangeOption applies an option change in one transaction under the
// link's lock.
func (s *Service) ChangeOption(ctx context.Context, req OptionRequest) (*OptionPlan, error) {
	return retryCollisions(ctx, "option change", req.Name, func() (*OptionPlan, error) { return s.changeOption(ctx, req) })
}

func (s *Service) changeOption(ctx context.Context, req OptionRequest) (*OptionPlan, error) {
	local, err := s.database(req.LocalVar, "local")
	if err != nil {
		return nil, err
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", req.Name, req.LocalVar)
	}
	tx, done, err := s.beginLocked(ctx, local, req.Name)
	if err != nil {
		return nil, err
	}
	defer done()
	p, err := s.optionStatement(ctx, tx, local, req.Name, req.Change)
	if err != nil {
		return nil, err
	}
	if err := execOne(ctx, tx, p.SQL); err != nil {
		if fleet.PgCode(err) == codeInsufficientPriv {
			return nil, errs.Wrap(errs.Forbidden, err, "pglinks' role in %s may not change link %s: %s", local.ConfigVar, req.Name, pgMessage(err))
		}
		return nil, errs.Wrap(errs.Invalid, err, "PostgreSQL refuses %s: %s. Nothing was changed.", p.SQL, pgMessage(err)).OnField("value")
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("links: option %s of %s: commit: %w", req.Change.Key, req.Name, err)
	}
	s.Log.Info("link option changed", "local", local.ConfigVar, "link", req.Name, "sql", p.SQL, "actor", req.Actor)
	return p, nil
}

// optionStatement reads the link and the option's current value in tx and
// builds the ALTER statement (ADD, SET or DROP as the value requires).
func (s *Service) optionStatement(ctx context.Context, tx pgx.Tx, local *fleet.Database, name string, ch OptionChange) (*OptionPlan, error) {
	recs, err := s.records(ctx, local.ConfigVar)
	if err != nil {
		return nil, err
	}
	ls, _, err := readLinks(ctx, tx, local, &name, recs)
	if err != nil {
		return nil, err
	}
	if len(ls) == 0 {
		return nil, errs.E(errs.NotFound, "There is no link named %q in %s.", name, local.ConfigVar)
	}
	l := &ls[0]
	if l.SchemaMissing && ch.Table != "" {
		return nil, errs.E(errs.Conflict, "The schema of link %q is missing or was replaced by hand.", name)
	}
	var installed []string
	if err := tx.QueryRow(ctx, "SELECT coalesce(array_agg(extname::text ORDER BY extname), '{}') FROM pg_catalog.pg_extension").Scan(&installed); err != nil {
		return nil, err
	}
	ch, err = validateOption(ch, installed)
	if err != nil {
		return nil, err
	}
	var opts map[string]string
	head := "ALTER SERVER " + fleet.Ident(l.ServerName)
	if ch.Table == "" {
		if opts, err = serverOptions(ctx, tx, l.ServerName); err != nil {
			return nil, err
		}
	} else {
		var own []string
		err := tx.QueryRow(ctx, `SELECT coalesce(ft.ftoptions, '{}') FROM pg_catalog.pg_foreign_table ft
			  JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
			  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			 WHERE n.nspname = $1 AND c.relname = $2`, name, ch.Table).Scan(&own)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errs.E(errs.Invalid, "Link %s has no foreign table %q.", name, ch.Table).OnField("table")
		}
		if err != nil {
			return nil, err
		}
		opts = optionMap(own)
		head = "ALTER FOREIGN TABLE " + fleet.Ident(name, ch.Table)
	}
	p := &OptionPlan{Link: l, Change: ch}
	p.Current, p.IsSet = opts[ch.Key]
	switch {
	case ch.Value == "" && !p.IsSet:
		return nil, errs.E(errs.Invalid, "%s is not set, so it is already at its default.", ch.Key).OnField("value")
	case ch.Value == "":
		p.SQL = head + " OPTIONS (DROP " + ch.Key + ")"
	case p.IsSet && p.Current == ch.Value:
		return nil, errs.E(errs.Invalid, "%s is already %s.", ch.Key, ch.Value).OnField("value")
	default:
		v, err := fleet.QuoteLiteral(ch.Value)
		if err != nil {
			return nil, errs.E(errs.Invalid, "The value cannot be used: %v.", err).OnField("value")
		}
		verb := "ADD"
		if p.IsSet {
			verb = "SET"
		}
		p.SQL = head + " OPTIONS (" + verb + " " + ch.Key + " " + v + ")"
	}
	return p, nil
}

var (
	sqlPerfSummary = stmt("perf_summary")
	sqlPerfTables  = stmt("perf_tables")
)
