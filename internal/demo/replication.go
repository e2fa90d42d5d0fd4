package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// Replication in the demo: crm (HEROKU_POSTGRESQL_ORANGE_URL) publishes its
// deals, and a reporting database on the other cluster subscribes to them.
const (
	ReportingVar      = "HEROKU_POSTGRESQL_PURPLE_URL"
	ReportingResource = "reporting-selfhosted"
	Subscription      = "reporting_deals"
	Publication       = "crm_deals"
)

const reportingSchema = `
CREATE TYPE deal_stage AS ENUM ('lead', 'qualified', 'proposal', 'won', 'lost');
CREATE TABLE deals (
    id         bigint PRIMARY KEY,
    account_id bigint,
    stage      deal_stage NOT NULL DEFAULT 'lead',
    amount     numeric(12, 2),
    closes_on  date
);`

// startReplication publishes crm's deals and subscribes the reporting
// database to them. On PostgreSQL 15 only a superuser creates (and owns)
// subscriptions, so the reporting database is in the fleet under its
// cluster's superuser URL, as on a self-hosted server: a demo admin can
// then disable, enable and drop the subscription from the browser. crm's
// owner gets REPLICATION so an orphaned slot can be dropped from pglinks.
func startReplication(ctx context.Context, env *Env, crm *pgtest.Database, pub, sub *pgtest.Cluster) error {
	if err := execAs(ctx, crm.URL, "CREATE PUBLICATION "+Publication+" FOR TABLE deals"); err != nil {
		return fmt.Errorf("demo: publication: %w", err)
	}
	if err := pub.Exec(ctx, "postgres", "ALTER ROLE "+pgx.Identifier{crm.Owner}.Sanitize()+" REPLICATION"); err != nil {
		return err
	}
	rep, err := sub.CreateDatabase(ctx, "reporting", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		return err
	}
	if err := execAs(ctx, rep.URL, reportingSchema); err != nil {
		return fmt.Errorf("demo: reporting schema: %w", err)
	}
	conninfo := pub.SuperURL(crm.Name)
	if err := sub.Exec(ctx, rep.Name, fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION %s", Subscription, conninfo, Publication)); err != nil {
		return fmt.Errorf("demo: subscription: %w", err)
	}
	env.Vars[ReportingVar] = sub.SuperURL(rep.Name)
	env.Vars["PGLINKS_RESOURCE_NAMES"] += "," + ReportingVar + "=" + ReportingResource
	return nil
}
