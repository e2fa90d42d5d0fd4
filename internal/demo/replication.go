package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/pgversion"
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
// database to them. A PostgreSQL 16 or newer lets a role granted
// pg_create_subscription create and own subscriptions, so where one of the
// demo's clusters runs 16 or later the reporting database lives there and
// is in the fleet under its own role, as on a hosted plan. On 14 and 15
// only a superuser creates (and owns) subscriptions, so it is in the fleet
// under its cluster's superuser URL, as on a self-hosted server: either way
// a demo admin can disable, enable and drop the subscription from the
// browser. crm's owner gets REPLICATION so an orphaned slot can be dropped
// from pglinks.
func startReplication(ctx context.Context, env *Env, crm *pgtest.Database, pub *pgtest.Cluster, clusters []*pgtest.Cluster) error {
	if err := execAs(ctx, crm.URL, "CREATE PUBLICATION "+Publication+" FOR TABLE deals"); err != nil {
		return fmt.Errorf("demo: publication: %w", err)
	}
	if err := pub.Exec(ctx, "postgres", "ALTER ROLE "+pgx.Identifier{crm.Owner}.Sanitize()+" REPLICATION"); err != nil {
		return err
	}
	sub := subscriberCluster(clusters)
	rep, err := sub.CreateDatabase(ctx, "reporting", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		return err
	}
	if err := execAs(ctx, rep.URL, reportingSchema); err != nil {
		return fmt.Errorf("demo: reporting schema: %w", err)
	}
	// The subscription logs in to crm as the publisher cluster's superuser
	// (with its password, which a subscription owned by another role
	// needs), so rotating crm's own password leaves it running.
	create := fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION '%s' PUBLICATION %s", Subscription, pub.SuperURL(crm.Name), Publication)
	if sub == pub {
		// Within one cluster CREATE SUBSCRIPTION would wait for its own
		// transaction while making the slot: make the slot first.
		if err := pub.Exec(ctx, crm.Name, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", Subscription); err != nil {
			return fmt.Errorf("demo: slot: %w", err)
		}
		create += " WITH (create_slot = false)"
	}
	if pgversion.AtLeast(sub.Major()*10000, 16) {
		if err := sub.Exec(ctx, rep.Name, "GRANT pg_create_subscription TO "+pgx.Identifier{rep.Owner}.Sanitize()); err != nil {
			return err
		}
		if err := execAs(ctx, rep.URL, create); err != nil {
			return fmt.Errorf("demo: subscription: %w", err)
		}
		env.Vars[ReportingVar] = rep.URL
	} else {
		if err := sub.Exec(ctx, rep.Name, create); err != nil {
			return fmt.Errorf("demo: subscription: %w", err)
		}
		env.Vars[ReportingVar] = sub.SuperURL(rep.Name)
	}
	env.Vars["PGLINKS_RESOURCE_NAMES"] += "," + ReportingVar + "=" + ReportingResource
	return nil
}

// subscriberCluster is where the reporting database runs: the first
// cluster, unless only the other one lets a role that is not a superuser
// subscribe (PostgreSQL 16 and later).
func subscriberCluster(clusters []*pgtest.Cluster) *pgtest.Cluster {
	if !pgversion.AtLeast(clusters[0].Major()*10000, 16) && pgversion.AtLeast(clusters[1].Major()*10000, 16) {
		return clusters[1]
	}
	return clusters[0]
}
