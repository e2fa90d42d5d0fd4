package links

import (
	"context"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/errs"
)

// What a remote says in an error (its owner's RAISE in a view, or a
// server on the network path answering anything) is the remote's: pglinks
// quotes it, but only so much of it, wherever it shows or keeps it (the
// flash cookie, the API answer, the audit row, the log). The health probe
// cuts its reason at MaxReasonChars; these pin the other ways a remote's
// words come back.

// remoteWordsBound is a generous bound on a message quoting a remote: far
// above anything a person reads, far below the megabyte a remote sends.
const remoteWordsBound = 8 << 10

// loudRemoteSQL makes, as the remote's owner (no superuser needed), a view
// whose rows cannot be read without an error of a megabyte.
const loudRemoteSQL = `
CREATE FUNCTION loud() RETURNS int LANGUAGE plpgsql AS $f$
BEGIN RAISE EXCEPTION '%', 'LOUD:' || repeat('"', 1048576); END $f$;
CREATE VIEW loud AS SELECT loud() AS x;
`

// ANALYZE of a foreign table reads its remote rows: a remote view that
// raises a megabyte makes the table's failure reason a megabyte, which
// the page puts in a flash cookie (lost: gorilla refuses cookies over 4 KB)
// and the API returns whole, once per failing table (up to 10,000).
func TestAnalyzeFailureReasonIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	execAs(t, f.remote.URL, loudRemoteSQL)
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "shop", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.AnalyzeLink(ctx, AnalyzeRequest{LocalVar: "DATABASE_URL", Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, fl := range res.Failed {
		if fl.Table != "loud" {
			continue
		}
		found = true
		if !strings.Contains(fl.Reason, "LOUD:") {
			t.Errorf("the reason does not quote the remote: %.200s", fl.Reason)
		}
		if len(fl.Reason) > remoteWordsBound {
			t.Errorf("analyze failure reason of %q is %d bytes: what the remote said reaches the page, the API and the audit trail whole", fl.Table, len(fl.Reason))
		}
	}
	if !found {
		t.Fatalf("the view that raises did not fail to analyze: %+v", res)
	}
}

// A refresh that imports a new remote table runs IMPORT FOREIGN SCHEMA
// through the link: the remote's error (here its superuser has format_type
// raise a megabyte for postgres_fdw's sessions, which a server on the
// network path can answer as well) becomes the refresh's message whole,
// and that message goes to the flash, the API answer and the audit row.
func TestRefreshFailureMessageIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "shop", CopyEnums: true}); err != nil {
		t.Fatal(err)
	}
	execAs(t, f.remote.URL, "CREATE TABLE extra (note text)")
	execAs(t, clusterB.SuperURL(f.remote.Name), `
		ALTER FUNCTION pg_catalog.format_type(oid, integer) RENAME TO format_type_real;
		CREATE FUNCTION pg_catalog.format_type(oid, integer) RETURNS text LANGUAGE plpgsql STABLE AS $f$
		BEGIN
		  IF pg_catalog.current_setting('application_name') LIKE 'pglinks/%' THEN
		    RAISE EXCEPTION '%', 'LOUD:' || pg_catalog.repeat('"', 1048576);
		  END IF;
		  RETURN pg_catalog.format_type_real($1, $2);
		END $f$`)
	p, err := f.svc.PlanRefresh(ctx, "DATABASE_URL", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Drift.NewTables) != 1 || len(p.Blockers) > 0 {
		t.Fatalf("plan: new tables %v, blockers %v", p.Drift.NewTables, p.Blockers)
	}
	_, err = f.svc.RefreshLink(ctx, RefreshRequest{LocalVar: "DATABASE_URL", Name: "shop", Fingerprint: p.Fingerprint})
	if err == nil {
		t.Fatal("the refresh went through a remote that raises on import")
	}
	msg := errs.MessageOf(err)
	if !strings.Contains(msg, "LOUD:") {
		t.Fatalf("the refresh's message does not quote the remote (%v): %.300s", errs.KindOf(err), err)
	}
	if len(msg) > remoteWordsBound {
		t.Errorf("the refresh's message is %d bytes: what the remote said reaches the flash, the API and the audit trail whole", len(msg))
	}
}

// A create whose remote enum has labels the local enum of the same name
// lacks names every missing label in its message: the remote's owner (no
// superuser needed) decides how many there are, so the create form's
// error, the API's answer and the audit row are as long as the remote
// makes them (here 20,000 labels of 60 bytes: over a megabyte).
func TestCreateTypeGapMessageIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	execAs(t, f.remote.URL, `DO $d$ BEGIN
		EXECUTE format('CREATE TYPE mood AS ENUM (%s)',
		  (SELECT string_agg(quote_literal(lpad(g::text, 60, 'x')), ', ' ORDER BY g) FROM generate_series(1, 20000) g));
	END $d$;
	CREATE TABLE moods (m mood)`)
	execAs(t, f.local.URL, `CREATE TYPE mood AS ENUM ('calm')`)
	_, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: "HEROKU_POSTGRESQL_BLUE_URL", LocalVar: "DATABASE_URL", Name: "shop"})
	if err == nil {
		t.Fatal("created a link over an enum the local database has with fewer labels")
	}
	msg := errs.MessageOf(err)
	if !strings.Contains(msg, "public.mood") {
		t.Fatalf("the create's message does not name the enum (%v): %.300s", errs.KindOf(err), err)
	}
	if len(msg) > remoteWordsBound {
		t.Errorf("the create's message is %d bytes: every label the remote has and the local enum lacks", len(msg))
	}
}
