package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Intruder is a second role of a test database that may create schemas
// there and nothing else: it cannot read public.people, which holds Secret
// and belongs to the database's owner. Tests build traps out of its
// functions (casts, operators, row-level security policies, views, objects
// on the owner's search_path) and check that pglinks, connected as the
// owner, never springs them.
//
// trap.leak(what) returns "LEAKED(what):" and the secret, which only a
// role that can read public.people gets; trap.boom(what) raises an error
// with the same text. Both first record that they ran, as whom, in a way
// that survives a read-only or rolled-back transaction (a session advisory
// lock) and, where writing is possible, a row of trap.ran.
type Intruder struct {
	Role, Password, URL string
	Secret              string

	key      int32 // the advisory lock key recording a run
	superURL string
}

// AddIntruder creates the intruder role in d, the owner's public.people
// holding a fresh secret, and the intruder's trap schema.
func (c *Cluster) AddIntruder(ctx context.Context, d *Database) (*Intruder, error) {
	in := &Intruder{
		Role:     d.Name + "_intruder",
		Password: RandomToken(12),
		Secret:   "secret-" + RandomToken(8),
		key:      rand.Int32N(1 << 30),
		superURL: c.SuperURL(d.Name),
	}
	in.URL = c.URL(in.Role, in.Password, d.Name)
	role := pgx.Identifier{in.Role}.Sanitize()
	if err := c.Exec(ctx, d.Name, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'; GRANT CREATE ON DATABASE %s TO %s",
		role, c.passwordLiteral(in.Password), pgx.Identifier{d.Name}.Sanitize(), role)); err != nil {
		return nil, err
	}
	if err := execURL(ctx, d.URL, "CREATE TABLE public.people (secret text)"); err != nil {
		return nil, err
	}
	if err := execURL(ctx, d.URL, "INSERT INTO public.people VALUES ($1)", in.Secret); err != nil {
		return nil, err
	}
	err := execURL(ctx, in.URL, fmt.Sprintf(`
CREATE SCHEMA trap;
CREATE TABLE trap.ran (who text, what text);
GRANT USAGE ON SCHEMA trap TO PUBLIC;
GRANT INSERT ON trap.ran TO PUBLIC;
CREATE FUNCTION trap.record(what text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_catalog.pg_try_advisory_lock(31337, %d);
  BEGIN
    INSERT INTO trap.ran (who, what) VALUES (current_user, what);
  EXCEPTION WHEN OTHERS THEN NULL; -- a read-only transaction: the lock records it
  END;
END $f$;
CREATE FUNCTION trap.leak(what text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE s text;
BEGIN
  PERFORM trap.record(what);
  BEGIN
    SELECT pg_catalog.string_agg(secret, ',') INTO s FROM public.people;
  EXCEPTION WHEN insufficient_privilege THEN s := 'no access';
  END;
  RETURN 'LEAKED(' || what || '):' || coalesce(s, '');
END $f$;
CREATE FUNCTION trap.boom(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  RAISE EXCEPTION '%%', trap.leak(what);
END $f$;`, in.key))
	if err != nil {
		return nil, err
	}
	return in, nil
}

// MustExec runs sql as the intruder.
func (in *Intruder) MustExec(tb TB, sql string) {
	tb.Helper()
	MustExec(tb, in.URL, sql)
}

// Ran lists what of the intruder's code ran as another role ("who: what"),
// from trap.ran and from the advisory locks its functions took.
func (in *Intruder) Ran(tb TB) []string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, in.superURL)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
		return nil
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
SELECT who || ': ' || what FROM trap.ran WHERE who <> $1
UNION ALL
SELECT a.usename || ': (advisory lock of backend ' || l.pid || ')'
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.classid = 31337 AND l.objid = $2 AND a.usename <> $1`, in.Role, in.key)
	if err != nil {
		tb.Fatalf("pgtest: intruder runs: %v", err)
		return nil
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("pgtest: intruder runs: %v", err)
	}
	return out
}

// HijackSearchPath puts functions, aggregates and operators that run the
// intruder's code into a schema named after victim, which PostgreSQL's
// default search_path ("$user", public) searches for victim's sessions.
// Each is a closer match than the built-in one pglinks means for some
// argument types, so an unqualified call resolves to it unless the
// session's search_path is pg_catalog only.
func (in *Intruder) HijackSearchPath(tb TB, victim string) {
	tb.Helper()
	s := pgx.Identifier{victim}.Sanitize()
	sql := `
CREATE SCHEMA {S};
GRANT USAGE ON SCHEMA {S} TO {S};
CREATE FUNCTION {S}.agg_text(text[], text) RETURNS text[] LANGUAGE sql AS $f$ SELECT $1 || trap.leak('array_agg(text)') $f$;
CREATE AGGREGATE {S}.array_agg(text) (sfunc = {S}.agg_text, stype = text[], initcond = '{}');
CREATE FUNCTION {S}.agg_json(json, json) RETURNS json LANGUAGE sql AS $f$ SELECT pg_catalog.to_json(trap.leak('json_agg(json)')) $f$;
CREATE AGGREGATE {S}.json_agg(json) (sfunc = {S}.agg_json, stype = json);
CREATE FUNCTION {S}.obj_description(oid, text) RETURNS text LANGUAGE sql AS $f$ SELECT trap.leak('obj_description') $f$;
CREATE FUNCTION {S}.format(text, name, name) RETURNS text LANGUAGE sql AS $f$ SELECT trap.leak('format') $f$;
CREATE FUNCTION {S}.contains(text[], text[]) RETURNS boolean LANGUAGE sql AS $f$ SELECT trap.leak('@>') IS NOT NULL $f$;
CREATE OPERATOR {S}.@> (leftarg = text[], rightarg = text[], function = {S}.contains);
`
	in.MustExec(tb, strings.ReplaceAll(sql, "{S}", s))
}

func execURL(ctx context.Context, url, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}
