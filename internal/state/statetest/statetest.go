// Package statetest gives tests state databases with every migration
// applied: copies of one migrated template per cluster, a file copy each
// instead of the migrations run again.
package statetest

import (
	"context"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/state"
)

// templateName is the migrated template database in each cluster.
const templateName = "pglinks_state_template"

// CreateDatabase makes database name on c, owned by a role of its own, with
// every migration applied (state.Open finds nothing left to do).
func CreateDatabase(ctx context.Context, c *pgtest.Cluster, name string) (*pgtest.Database, error) {
	opts := pgtest.DBOptions{NoFDW: true}
	err := c.Template(ctx, templateName, opts, func(ctx context.Context, url string) error {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		db, err := state.Open(ctx, url)
		if err != nil {
			return err
		}
		db.Close()
		return nil
	})
	if err != nil {
		return nil, err
	}
	opts.Template = templateName
	return c.CreateDatabase(ctx, name, opts)
}
