package fleet

import (
	"context"
	"time"
)

// Deadlines bound every call pglinks makes to a fleet database, each next
// to the operation it bounds. README's "Deadlines" table is tested against
// DefaultDeadlines (cmd/web).
type Deadlines struct {
	// Connect bounds connecting to a fleet database from pglinks.
	Connect time.Duration
	// Status bounds reading one database's state for a page (its
	// inventory card, its replication), so an unreachable database shows
	// as such within seconds and the rest renders; a link probe's
	// statements get as long once the remote is connected.
	Status time.Duration
	// Read bounds a page's reads of one database (link page, destroy
	// plan) when the caller's context has no earlier deadline.
	Read time.Duration
	// Write bounds a whole create, destroy, refresh or import, pre-flight
	// included.
	Write time.Duration
	// Statement is set (SET LOCAL statement_timeout) in every transaction
	// that changes a link, so a remote that stops answering mid-statement
	// fails the operation instead of holding its transaction and lock.
	Statement time.Duration
	// Lock bounds waiting for another process working on the same link.
	Lock time.Duration
	// RemoteConnect is the connect_timeout (whole seconds) set on every
	// foreign server: without it a remote that accepts TCP and never
	// answers hangs IMPORT FOREIGN SCHEMA for good.
	RemoteConnect time.Duration
	// Keepalive is the libpq TCP keepalive idle time set on every foreign
	// server, so a remote that vanished from the network is noticed.
	Keepalive time.Duration
	// Rollback bounds ending a transaction whose operation ended (and
	// terminating its backend when that fails).
	Rollback time.Duration
	// Abandon bounds cutting, on a remote, the connections of a link
	// whose statement stalled.
	Abandon time.Duration
	// Repair bounds a whole repair, its probe included; RepairStatement
	// each of its statements, which only touch the local catalog.
	Repair, RepairStatement time.Duration
	// FleetPage bounds a page that reads the whole fleet: the inventory
	// (the cards it has to read, the link records, the replication
	// warnings) and the replication page.
	FleetPage time.Duration
	// CreateForm bounds the status read behind the create form: a
	// database that does not answer in time is listed as unavailable
	// rather than holding up the form.
	CreateForm time.Duration
	// ConnectSync bounds a link page's read of its Heroku Connect sync
	// state in all (each statement has connect's own bound).
	ConnectSync time.Duration
	// ReplicationProbe bounds the connect pglinks tries to a publisher
	// before dropping a subscription: a publisher that does not answer in
	// time is treated as unreachable and the safe path is taken.
	ReplicationProbe time.Duration
	// ReplicationStatement is set in every replication change.
	ReplicationStatement time.Duration
	// Scrape bounds reading the fleet for one /metrics scrape.
	Scrape time.Duration
	// QueryCheck is the statement_timeout of a query check's EXPLAIN (or
	// EXPLAIN ANALYZE) of an admin's SELECT; the remote's estimate of each
	// foreign scan gets half of it, and the whole check four times it.
	QueryCheck time.Duration
	// AnalyzeTable bounds analyzing one foreign table (one transaction,
	// statement_timeout), AnalyzeAll a whole "Analyze foreign tables" run.
	AnalyzeTable, AnalyzeAll time.Duration
}

// DefaultDeadlines are the production bounds.
func DefaultDeadlines() Deadlines {
	return Deadlines{
		Connect:              3 * time.Second,
		Status:               4 * time.Second,
		Read:                 8 * time.Second,
		Write:                60 * time.Second,
		Statement:            30 * time.Second,
		Lock:                 5 * time.Second,
		RemoteConnect:        5 * time.Second,
		Keepalive:            10 * time.Second,
		Rollback:             5 * time.Second,
		Abandon:              3 * time.Second,
		Repair:               30 * time.Second,
		RepairStatement:      5 * time.Second,
		FleetPage:            15 * time.Second,
		CreateForm:           4 * time.Second,
		ConnectSync:          5 * time.Second,
		ReplicationProbe:     2 * time.Second,
		ReplicationStatement: 10 * time.Second,
		Scrape:               10 * time.Second,
		QueryCheck:           5 * time.Second,
		AnalyzeTable:         20 * time.Second,
		AnalyzeAll:           45 * time.Second,
	}
}

// Bound gives ctx a deadline of at most d from now.
func Bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
