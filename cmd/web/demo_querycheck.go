package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// demoCheckQuery is the saved query check the demo's link crm shows: a
// condition on pg_trgm's similarity(), which postgres_fdw keeps local
// until pg_trgm is in the server's extensions option (the check offers
// that fix), and a join on the link's never-analyzed tables.
const demoCheckQuery = `SELECT a.name, d.stage, d.amount
  FROM crm.deals d JOIN crm.accounts a ON a.id = d.account_id
 WHERE similarity(a.name, 'Account 7') > 0.4 AND d.amount > 1000`

// saveDemoCheck runs and saves that check as the demo, audited like one
// run in the dashboard; a failure is reported and the demo goes on.
func saveDemoCheck(ctx context.Context, p *program, localVar string) {
	c, err := p.links.CheckQuery(ctx, links.QueryCheckRequest{LocalVar: localVar, Name: "crm", SQL: demoCheckQuery, Actor: "demo"})
	if err == nil {
		err = links.NewQueryChecks(p.store.Pool()).Save(ctx, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: saving a query check of crm:", err)
		return
	}
	err = p.store.Record(ctx, auth.AuditEntry{Actor: "demo", Action: auth.ActionQueryCheck, Target: localVar + "/crm", Outcome: auth.OutcomeOK,
		Detail: fmt.Sprintf("plan, check #%d: %s, %s kept local; made by the demo at start", c.ID, views.Plural(len(c.Scans), "foreign scan", "foreign scans"), views.Plural(c.KeptLocalCount(), "thing", "things")), DDL: c.Statement})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: recording the query check in the audit trail:", err)
	}
}
