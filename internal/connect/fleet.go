package connect

import (
	"context"

	"github.com/pglinks/pglinks/internal/fleet"
)

// ReadFleetSyncState is ReadSyncState on the fleet database configVar,
// over pglinks' own pooled connection and within the fleet's ConnectSync
// deadline in all (each statement within o's). A database that cannot be
// reached comes back as the fleet's errs.Unavailable, naming it.
func ReadFleetSyncState(ctx context.Context, f *fleet.Fleet, configVar, schema string, only []string, o Options) (*SyncState, error) {
	d, err := f.Lookup(configVar)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.Deadlines.ConnectSync)
	defer cancel()
	conn, err := f.Acquire(ctx, d, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	return ReadSyncState(ctx, conn.Conn(), schema, only, o)
}

// ReadFleetMessage is ReadMessage on the fleet database configVar, over
// pglinks' own pooled connection and within the fleet's ConnectSync
// deadline in all.
func ReadFleetMessage(ctx context.Context, f *fleet.Fleet, configVar, schema string, only []string, table, id string, o Options) (*Message, error) {
	d, err := f.Lookup(configVar)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.Deadlines.ConnectSync)
	defer cancel()
	conn, err := f.Acquire(ctx, d, fleet.ClassUser)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	return ReadMessage(ctx, conn.Conn(), schema, only, table, id, o)
}
