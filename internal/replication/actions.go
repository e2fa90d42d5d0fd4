package replication

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// Result is what a change did: the statements that ran, for the audit
// trail, and what the admin should know afterwards.
type Result struct {
	SQL []string
	// SafePath is set when a subscription was dropped without reaching
	// its publisher (DISABLE, slot_name = NONE, DROP).
	SafePath bool
	// OrphanedSlot and OrphanedOn name the slot left on the publisher by
	// the safe path ("" when none or unknown).
	OrphanedSlot string
	OrphanedOn   string
	// Message says in words what happened.
	Message string
}

// conn acquires a pooled connection to a fleet database, bounded by ctx.
func (s *Service) conn(ctx context.Context, configVar string) (*pgxpool.Conn, error) {
	d, err := s.Fleet.Lookup(configVar)
	if err != nil {
		return nil, err
	}
	return s.Fleet.Acquire(ctx, d, fleet.ClassUser)
}

// writeTx runs stmts in one transaction with SET LOCAL statement_timeout.
func (s *Service) writeTx(ctx context.Context, c *pgxpool.Conn, stmts []string) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", s.Fleet.Deadlines.ReplicationStatement.Milliseconds())); err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// subscription reads one subscription of configVar as the page shows it.
func (s *Service) subscription(ctx context.Context, configVar, name string) (*Database, *Subscription, error) {
	d, err := s.Fleet.Lookup(configVar)
	if err != nil {
		return nil, nil, err
	}
	r := s.ReadDatabase(ctx, d)
	if !r.Reachable {
		return nil, nil, errs.E(errs.Unavailable, "%s", r.Error)
	}
	for i := range r.Subscriptions {
		if r.Subscriptions[i].Name == name {
			sub := &r.Subscriptions[i]
			if sub.ConnInfoReadable {
				sub.PublisherVar = matchFleet(s.Fleet, sub.Publisher)
			}
			return &r, sub, nil
		}
	}
	return &r, nil, errs.E(errs.NotFound, "There is no subscription %q in %s.", name, configVar)
}

// SetEnabled enables or disables a subscription.
func (s *Service) SetEnabled(ctx context.Context, configVar, name string, enable bool) (*Result, error) {
	defer s.changed()
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status+s.Fleet.Deadlines.ReplicationStatement)
	defer cancel()
	d, sub, err := s.subscription(ctx, configVar, name)
	if err != nil {
		return nil, err
	}
	if d.ManageReason != "" {
		return nil, errs.E(errs.Forbidden, "Subscription %s cannot be changed: %s.", name, d.ManageReason)
	}
	state := "disabled"
	if enable {
		state = "enabled"
	}
	if sub.Enabled == enable {
		// The page was older than the subscription (someone changed it
		// since): nothing to do, and nothing starts or stops, so its state
		// (an alarm too) stays what it is.
		return &Result{Message: fmt.Sprintf("Subscription %s on %s was %s already; nothing was changed.", name, configVar, state)}, nil
	}
	verb := "DISABLE"
	if enable {
		verb = "ENABLE"
	}
	stmt := fmt.Sprintf("ALTER SUBSCRIPTION %s %s", fleet.Ident(sub.Name), verb)
	c, err := s.conn(ctx, configVar)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	if err := s.writeTx(ctx, c, []string{stmt}); err != nil {
		return nil, writeErr(err, "change subscription "+name, configVar)
	}
	// From now on the worker starts (or stops): "starting" ("stopping")
	// until Settle has passed.
	s.memory().Mark(Key{configVar, kindSubscription, name}, state, s.now())
	return &Result{SQL: []string{stmt}, Message: fmt.Sprintf("Subscription %s on %s %s.", name, configVar, state)}, nil
}

// DropPlan is what the drop confirmation page says.
type DropPlan struct {
	DB  *Database
	Sub *Subscription
	// PublisherReachable: pglinks could connect to the publisher just now.
	PublisherReachable bool
	// PublisherKnown: the publisher's address is readable.
	PublisherKnown bool
	// Publisher names the publisher: a config var or the address.
	Publisher string
	// SlotFate says in words what happens to the slot.
	SlotFate string
	// PlainSQL is the plain drop (it also drops the slot on the
	// publisher), run unless the publisher is known not to answer; nil
	// when it will not run. SafeSQL is PostgreSQL's safe path, in one
	// transaction, run when the publisher does not answer; nil when the
	// subscription has no slot.
	PlainSQL, SafeSQL []string
	// StatementTimeout bounds each statement.
	StatementTimeout time.Duration
	// Fingerprint identifies what the drop acts on: the subscription, its
	// slot and its publisher. A drop confirmed against another fingerprint
	// (the subscription was pointed at another slot since) is refused.
	Fingerprint string
}

// dropStatements are the statements of both ways to drop sub.
func dropStatements(sub *Subscription) (plain, safe []string) {
	drop := fmt.Sprintf("DROP SUBSCRIPTION %s", fleet.Ident(sub.Name))
	if sub.SlotName == "" {
		return []string{drop}, nil
	}
	return []string{drop}, []string{
		fmt.Sprintf("ALTER SUBSCRIPTION %s DISABLE", fleet.Ident(sub.Name)),
		fmt.Sprintf("ALTER SUBSCRIPTION %s SET (slot_name = NONE)", fleet.Ident(sub.Name)),
		drop,
	}
}

// PlanDropSubscription reads the subscription and probes its publisher.
func (s *Service) PlanDropSubscription(ctx context.Context, configVar, name string) (*DropPlan, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status+s.Fleet.Deadlines.ReplicationProbe)
	defer cancel()
	d, sub, err := s.subscription(ctx, configVar, name)
	if err != nil {
		return nil, err
	}
	p := &DropPlan{DB: d, Sub: sub, PublisherKnown: sub.ConnInfoReadable && sub.Publisher.Host != "", StatementTimeout: s.Fleet.Deadlines.ReplicationStatement}
	p.PlainSQL, p.SafeSQL = dropStatements(sub)
	p.Publisher = sub.PublisherVar
	if p.Publisher == "" {
		p.Publisher = sub.PublisherShown
	}
	if p.Publisher == "" {
		p.Publisher = "its publisher"
	}
	h := sha256.Sum256([]byte(sub.Name + "\x00" + sub.SlotName + "\x00" + sub.PublisherVar + "\x00" + sub.PublisherShown))
	p.Fingerprint = hex.EncodeToString(h[:8])
	if p.PublisherKnown {
		p.PublisherReachable = s.probe(ctx, sub) == nil
	}
	switch {
	case sub.SlotName == "":
		p.SlotFate = "The subscription has no slot (slot_name = NONE), so nothing changes on the publisher."
	case !p.PublisherKnown:
		p.SlotFate = fmt.Sprintf("pglinks cannot read where the publisher is (the connection info is not readable by this role), so it tries a plain DROP SUBSCRIPTION, which also drops the slot %s on the publisher, bounded to %s; if the publisher does not answer, it takes PostgreSQL's safe path (DISABLE, SET (slot_name = NONE), DROP) and the slot stays there, orphaned.", sub.SlotName, s.Fleet.Deadlines.ReplicationStatement)
	case p.PublisherReachable:
		p.SlotFate = fmt.Sprintf("The publisher %s answers, so DROP SUBSCRIPTION also drops the slot %s there and the WAL it holds is released. Should the subscriber fail to reach it all the same, pglinks takes PostgreSQL's safe path (DISABLE, SET (slot_name = NONE), DROP) and the slot stays there, orphaned.", p.Publisher, sub.SlotName)
	default:
		p.PlainSQL = nil
		p.SlotFate = fmt.Sprintf("The publisher %s does not answer, so pglinks takes PostgreSQL's safe path: DISABLE, SET (slot_name = NONE), then DROP SUBSCRIPTION. The slot %s stays on the publisher, orphaned, and retains WAL until it is dropped there (\"Drop slot\" on the replication page once the publisher is back).", p.Publisher, sub.SlotName)
	}
	return p, nil
}

// probe tries a short, bounded connect to a subscription's publisher: the
// fleet's own connection when the publisher is a fleet database, else a TCP
// connect to its address.
func (s *Service) probe(ctx context.Context, sub *Subscription) error {
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.ReplicationProbe)
	defer cancel()
	if sub.PublisherVar != "" {
		c, err := s.conn(ctx, sub.PublisherVar)
		if err != nil {
			return err
		}
		defer c.Release()
		return c.Ping(ctx)
	}
	var dialer net.Dialer
	if sub.Publisher.Host == "" || sub.Publisher.Host[0] == '/' {
		return errors.New("publisher address not usable from pglinks")
	}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(sub.Publisher.Host, sub.Publisher.Port))
	if err != nil {
		return err
	}
	return conn.Close()
}

// DropSubscriptionRequest is a drop with its typed confirmation.
type DropSubscriptionRequest struct {
	ConfigVar, Name, Confirm string
	// Fingerprint is the plan's the confirmation showed; the drop is
	// refused when the plan changed since. "" skips the comparison (API
	// clients of v1 that do not send it).
	Fingerprint string
}

// DropSubscription drops a subscription. When its publisher answers a
// short probe, a plain DROP SUBSCRIPTION also drops the slot there; when it
// does not (or the plain drop cannot reach it), the subscription is
// disabled, detached from its slot and dropped, and the result names the
// slot left orphaned on the publisher.
func (s *Service) DropSubscription(ctx context.Context, req DropSubscriptionRequest) (*Result, error) {
	defer s.changed()
	if req.Confirm != req.Name {
		return nil, errs.E(errs.Invalid, "Type the subscription name exactly to confirm; nothing was changed.").OnField("confirm")
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status+s.Fleet.Deadlines.ReplicationProbe+2*s.Fleet.Deadlines.ReplicationStatement)
	defer cancel()
	plan, err := s.PlanDropSubscription(ctx, req.ConfigVar, req.Name)
	if err != nil {
		return nil, err
	}
	if plan.DB.ManageReason != "" {
		return nil, errs.E(errs.Forbidden, "Subscription %s cannot be dropped: %s.", req.Name, plan.DB.ManageReason)
	}
	if req.Fingerprint != "" && req.Fingerprint != plan.Fingerprint {
		return nil, errs.E(errs.Conflict, "Subscription %s changed since the confirmation page was shown: its slot is now %s on %s. Review the drop again; nothing was changed.", req.Name, orNone(plan.Sub.SlotName), plan.Publisher)
	}
	sub := plan.Sub
	c, err := s.conn(ctx, req.ConfigVar)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	if sub.SlotName == "" {
		if err := s.writeTx(ctx, c, plan.PlainSQL); err != nil {
			return nil, writeErr(err, "drop subscription "+sub.Name, req.ConfigVar)
		}
		return &Result{SQL: plan.PlainSQL, Message: fmt.Sprintf("Subscription %s dropped from %s; it had no slot.", sub.Name, req.ConfigVar)}, nil
	}
	if plan.PlainSQL != nil {
		// With a slot, DROP SUBSCRIPTION cannot run in a transaction block:
		// bound it with a session statement_timeout, reset afterwards.
		setTimeout := fmt.Sprintf("SET statement_timeout = %d", s.Fleet.Deadlines.ReplicationStatement.Milliseconds())
		_, err := c.Exec(ctx, setTimeout)
		if err == nil {
			_, err = c.Exec(ctx, plan.PlainSQL[0])
			if _, rerr := c.Exec(ctx, "RESET statement_timeout"); rerr != nil {
				c.Conn().Close(ctx) // do not return a connection with a changed session
			}
		}
		if err == nil {
			return &Result{SQL: append([]string{setTimeout}, plan.PlainSQL...), Message: fmt.Sprintf("Subscription %s dropped from %s, and its slot %s dropped on %s.", sub.Name, req.ConfigVar, sub.SlotName, plan.Publisher)}, nil
		}
		if !publisherUnreachable(err) {
			return nil, writeErr(err, "drop subscription "+sub.Name, req.ConfigVar)
		}
		// The subscriber could not reach the publisher even though pglinks
		// could: take the safe path all the same.
	}
	stmts := plan.SafeSQL
	if err := s.writeTx(ctx, c, stmts); err != nil {
		return nil, writeErr(err, "drop subscription "+sub.Name, req.ConfigVar)
	}
	return &Result{
		SQL: stmts, SafePath: true, OrphanedSlot: sub.SlotName, OrphanedOn: plan.Publisher,
		Message: fmt.Sprintf("Subscription %s dropped from %s by the safe path because its publisher did not answer. The slot %s on %s is now orphaned and retains WAL: drop it there once the publisher is back.", sub.Name, req.ConfigVar, sub.SlotName, plan.Publisher),
	}, nil
}

// publisherUnreachable reports whether a DROP SUBSCRIPTION failed because
// the subscriber could not connect to the publisher.
func publisherUnreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "08006" || pgErr.Code == "08001" || pgErr.Code == "57014" ||
			(pgErr.Code == "XX000" && containsAny(pgErr.Message, "could not connect", "connection to server"))
	}
	return false
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// DropSlotRequest is a slot drop with its typed confirmation.
type DropSlotRequest struct {
	ConfigVar, Name, Confirm string
	// Fingerprint is the plan's the confirmation showed: the drop is
	// refused when what the slot breaks changed since. "" skips the
	// comparison (API clients of v1 that do not send it).
	Fingerprint string
}

// SlotPlan is what the drop-slot confirmation page says.
type SlotPlan struct {
	DB   *Database
	Slot *Slot
	// Refusal, when set, says why the slot cannot be dropped now;
	// forbidden when pglinks' role may not drop slots there at all.
	Refusal   string
	forbidden bool
	// Unread names the fleet databases that could not be read: a
	// subscription there may use the slot.
	Unread []string
	// At is when the slot was read: its state is as of then.
	At time.Time
	// OrphanAfter is the threshold the slot was judged by.
	OrphanAfter time.Duration
	// SQL is what the drop runs (the name goes as a parameter).
	SQL []string
	// Fingerprint identifies what the confirmation shows the drop acts
	// on: the slot, the subscription it breaks, the databases not read.
	Fingerprint string
}

// PlanDropSlot reads the slot, and every fleet database for a subscription
// that names it, and says whether it may be dropped now: only a slot
// inactive for longer than OrphanAfter (or invalidated), so one about to
// be used again is never dropped; and what it breaks.
func (s *Service) PlanDropSlot(ctx context.Context, configVar, name string) (*SlotPlan, error) {
	if _, err := s.Fleet.Lookup(configVar); err != nil {
		return nil, err
	}
	o := s.Overview(ctx)
	var r *Database
	p := &SlotPlan{At: o.ReadAt, OrphanAfter: s.OrphanAfter}
	for i := range o.Databases {
		d := &o.Databases[i]
		if d.DB.ConfigVar == configVar {
			r = d
		} else if !d.Reachable && d.DB.ConfigErr == nil {
			p.Unread = append(p.Unread, d.DB.ConfigVar)
		}
	}
	if r == nil || !r.Reachable {
		msg := configVar + " could not be read"
		if r != nil {
			msg = r.Error
		}
		return nil, errs.E(errs.Unavailable, "%s", msg)
	}
	for i := range r.Slots {
		if r.Slots[i].Name != name {
			continue
		}
		p.DB, p.Slot = r, &r.Slots[i]
		lit, err := fleet.QuoteLiteral(name)
		if err != nil {
			return nil, errs.E(errs.Invalid, "Slot name %q cannot be used: %v.", name, err)
		}
		p.SQL = []string{"SELECT pg_drop_replication_slot(" + lit + ")"}
		sl := p.Slot
		switch {
		case sl.Active:
			p.Refusal = fmt.Sprintf("Slot %s is active (used by process %d): a slot in use cannot be dropped. Disable or drop the subscription that uses it first.", name, sl.ActivePID)
		case r.DropSlotReason != "":
			p.Refusal, p.forbidden = fmt.Sprintf("Slot %s cannot be dropped from here: %s.", name, r.DropSlotReason), true
		case sl.Synced:
			p.Refusal = fmt.Sprintf("Slot %s is synchronized from the primary (synced): PostgreSQL does not let it be dropped on this standby; drop it on the primary.", name)
		case sl.State == SlotStarting:
			p.Refusal = fmt.Sprintf("Slot %s is about to be used: its subscription %s is starting. Dropping it would break that subscription.", name, sl.Breaks())
		case !sl.DropOffered():
			p.Refusal = fmt.Sprintf("Slot %s has been inactive %s, less than %s (PGLINKS_SLOT_ORPHAN_AFTER): its subscriber may be about to use it again, so pglinks does not offer to drop it yet.", name, inactiveWords(sl, o.ReadAt), Approx(s.OrphanAfter))
		}
		h := sha256.Sum256([]byte(configVar + "\x00" + name + "\x00" + sl.Breaks() + "\x00" + strings.Join(p.Unread, ",")))
		p.Fingerprint = hex.EncodeToString(h[:8])
		return p, nil
	}
	return nil, errs.E(errs.NotFound, "There is no replication slot %q in %s.", name, configVar)
}

// DropSlot drops an inactive replication slot.
func (s *Service) DropSlot(ctx context.Context, req DropSlotRequest) (*Result, error) {
	defer s.changed()
	if req.Confirm != req.Name {
		return nil, errs.E(errs.Invalid, "Type the slot name exactly to confirm; nothing was changed.").OnField("confirm")
	}
	p, err := s.PlanDropSlot(ctx, req.ConfigVar, req.Name)
	if err != nil {
		return nil, err
	}
	if req.Fingerprint != "" && req.Fingerprint != p.Fingerprint && p.Refusal == "" {
		breaks := "no fleet subscription names it"
		if b := p.Slot.Breaks(); b != "" {
			breaks = "subscription " + b + " names it"
		}
		return nil, errs.E(errs.Conflict, "Slot %s changed since the confirmation page was shown: %s now. Review the drop again; nothing was changed.", req.Name, breaks)
	}
	if p.Refusal != "" {
		kind := errs.Conflict
		if p.forbidden {
			kind = errs.Forbidden
		}
		return nil, errs.E(kind, "%s", p.Refusal)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Fleet.Deadlines.Status+s.Fleet.Deadlines.ReplicationStatement)
	defer cancel()
	c, err := s.conn(ctx, req.ConfigVar)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	tx, err := c.Begin(ctx)
	if err != nil {
		return nil, writeErr(err, "drop slot "+req.Name, req.ConfigVar)
	}
	defer tx.Rollback(ctx)
	setTimeout := fmt.Sprintf("SET LOCAL statement_timeout = %d", s.Fleet.Deadlines.ReplicationStatement.Milliseconds())
	if _, err := tx.Exec(ctx, setTimeout); err != nil {
		return nil, writeErr(err, "drop slot "+req.Name, req.ConfigVar)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_drop_replication_slot($1)", req.Name); err != nil {
		return nil, writeErr(err, "drop slot "+req.Name, req.ConfigVar)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, writeErr(err, "drop slot "+req.Name, req.ConfigVar)
	}
	held := ""
	if p.Slot.RetainedBytes != nil {
		held = fmt.Sprintf("; the %s of WAL it held can be recycled", HumanBytes(*p.Slot.RetainedBytes))
	}
	if b := p.Slot.Breaks(); b != "" {
		held += fmt.Sprintf(". Subscription %s can no longer resume: drop it, or create it again", b)
	}
	return &Result{SQL: append([]string{setTimeout}, p.SQL...), Message: fmt.Sprintf("Slot %s dropped on %s%s.", req.Name, req.ConfigVar, held)}, nil
}

// writeErr words a failed change: privileges, busy objects and timeouts in
// plain words, never a raw error.
func writeErr(err error, what, configVar string) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42501":
			if containsAny(what, "slot") {
				return errs.Wrap(errs.Forbidden, err, "Could not %s on %s: dropping slots needs a role with REPLICATION (or a superuser).", what, configVar)
			}
			return errs.Wrap(errs.Forbidden, err, "Could not %s on %s: it needs the subscription's owner or a superuser.", what, configVar)
		case "55006":
			return errs.Wrap(errs.Conflict, err, "Could not %s on %s: it is in use by another process.", what, configVar)
		case "57014":
			return errs.Wrap(errs.Unavailable, err, "Could not %s on %s: it did not finish in time and was cancelled; nothing was changed.", what, configVar)
		case "42704":
			return errs.Wrap(errs.NotFound, err, "Could not %s on %s: it no longer exists.", what, configVar)
		}
		return errs.Wrap(errs.Conflict, err, "Could not %s on %s: PostgreSQL said: %s", what, configVar, pgErr.Message)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.Unavailable, err, "Could not %s on %s: no answer in time.", what, configVar)
	}
	return errs.Wrap(errs.Unavailable, err, "Could not %s on %s: the connection failed.", what, configVar)
}

func orNone(s string) string {
	if s == "" {
		return "NONE"
	}
	return s
}
