package links

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Acquire returns a pooled connection to the fleet database configVar, for
// other domains (replication, Heroku Connect data) that share the fleet's
// connections rather than opening their own. Connection failures come back
// as errs.Unavailable with a message that says which database and why.
// The caller releases the connection and bounds ctx.
func (s *Service) Acquire(ctx context.Context, configVar string) (*pgxpool.Conn, *fleet.Database, error) {
	d, err := s.database(configVar, "")
	if err != nil {
		return nil, nil, err
	}
	conn, err := s.acquire(ctx, d)
	if err != nil {
		return nil, nil, err
	}
	return conn, d, nil
}
