package links

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// A repair writes the remote's config var, as this process read it at
// start, into a link. Several pglinks processes share one state database,
// and one started before a rotation holds an older config var than the
// link another process already repaired: writing it would break a working
// link. So before a repair is planned, and again inside its transaction,
// pglinks proves that the config var's credentials authenticate
// (fleet.ProveCredentials: a fresh, bounded connect as that role, the way
// the link would connect), and pages weigh a link's differences against
// the last such proof (judge).

// ProofMaxAge is how long pages use a proof of a config var's credentials
// before proving them again (a repair always proves them afresh).
const ProofMaxAge = 10 * time.Second

// ErrEnvRefused marks a repair refused because the remote refuses this
// pglinks' config var: handlers answer it as a conflict (409) and audit
// it as a refused repair.
var ErrEnvRefused = errors.New("the remote refuses this pglinks' config var")

type envProof struct {
	fail fleet.Failure // zero: the credentials authenticated
	at   time.Time
}

// envProofs are the last proofs of each remote's config var.
type envProofs struct {
	mu       sync.Mutex
	m        map[string]envProof
	inflight map[string]bool
}

func (p *envProofs) get(configVar string) (envProof, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.m[configVar]
	return pr, ok
}

// put records a proof and says whether it is a new refusal (the last
// proof was not refused for the same cause).
func (p *envProofs) put(configVar string, pr envProof) (newRefusal bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]envProof{}
	}
	old, had := p.m[configVar]
	p.m[configVar] = pr
	return pr.fail.Cause.Refusal() && (!had || old.fail.Cause != pr.fail.Cause)
}

// proveEnv proves remote's config var now and records the result. An
// error means it could not be asked (pglinks' own connections were all in
// use): nothing is recorded.
func (s *Service) proveEnv(ctx context.Context, remote *fleet.Database, class fleet.Class) (fleet.Failure, error) {
	err := s.Fleet.ProveCredentials(ctx, remote, class)
	if fleet.IsBusy(err) || errs.Is(err, errs.Invalid) {
		return fleet.Failure{}, err
	}
	f := fleet.Classify(err)
	if s.proofs.put(remote.ConfigVar, envProof{fail: f, at: time.Now()}) {
		// Pooled connections opened before the rotation still work and
		// would keep the remote's card saying all is well: read it afresh,
		// so it names the refusal too.
		s.Log.Warn("the remote refuses this pglinks' config var", "remote", remote.ConfigVar, "cause", f.Cause)
		s.Fleet.Discard(remote, fleet.ClassStatus)
		s.Fleet.Discard(remote, fleet.ClassUser)
		s.statuses().Forget(remote.ConfigVar)
	}
	return f, nil
}

// knownProof is remote's last proof when younger than ProofMaxAge; else
// it proves it in the background (once at a time) and says it is not
// known yet. Page views that list many links use it.
func (s *Service) knownProof(remote *fleet.Database) (fleet.Failure, bool) {
	if pr, ok := s.proofs.get(remote.ConfigVar); ok && time.Since(pr.at) < ProofMaxAge {
		return pr.fail, true
	}
	if f, ok := s.backedOff(remote); ok {
		return f, true
	}
	s.proofs.mu.Lock()
	if s.proofs.inflight == nil {
		s.proofs.inflight = map[string]bool{}
	}
	if s.proofs.inflight[remote.ConfigVar] {
		s.proofs.mu.Unlock()
		return s.lastProof(remote)
	}
	s.proofs.inflight[remote.ConfigVar] = true
	s.proofs.mu.Unlock()
	s.pages.goBackground(func(ctx context.Context) {
		defer func() {
			s.proofs.mu.Lock()
			delete(s.proofs.inflight, remote.ConfigVar)
			s.proofs.mu.Unlock()
		}()
		s.proveEnv(ctx, remote, fleet.ClassStatus) // cards are judged as they are served
	})
	return s.lastProof(remote)
}

// backedOff is remote's failure while the fleet backs it off (it did not
// answer its last read, for a cause asking again may help): pages do not
// try it again before then, any more than its card does.
func (s *Service) backedOff(remote *fleet.Database) (fleet.Failure, bool) {
	o, down := s.Fleet.Outage(remote.ConfigVar)
	if !down || !time.Now().Before(o.RetryAt) {
		return fleet.Failure{}, false
	}
	c := o.Cause
	if c == "" {
		c = fleet.CauseTimeout
	}
	return fleet.Failure{Cause: c, Detail: o.Reason}, true
}

// lastProof is remote's last proof, however old: better than nothing
// while a new one runs, never used for a repair.
func (s *Service) lastProof(remote *fleet.Database) (fleet.Failure, bool) {
	pr, ok := s.proofs.get(remote.ConfigVar)
	return pr.fail, ok
}

// freshProof is remote's proof for a page about one link: the last one
// when younger than ProofMaxAge, else a new one, made now.
func (s *Service) freshProof(ctx context.Context, remote *fleet.Database) (fleet.Failure, bool) {
	if pr, ok := s.proofs.get(remote.ConfigVar); ok && time.Since(pr.at) < ProofMaxAge {
		return pr.fail, true
	}
	if f, ok := s.backedOff(remote); ok {
		return f, true
	}
	f, err := s.proveEnv(ctx, remote, fleet.ClassUser)
	if err != nil {
		return s.lastProof(remote)
	}
	return f, true
}

// judge weighs l's comparison with its remote's config var against what
// is known of that config var (proof, known) and, when h is given, of the
// link's own credentials (a probe made now, or moments ago), on a copy of
// the report: pages then call the link stale only when the config var
// works, offer a repair only when it was proven, and say which side is
// newer when the config var is refused and h tells.
func (s *Service) judge(l *Link, proof fleet.Failure, known bool, h *LinkHealth) {
	if !l.Stale.Differs() {
		return
	}
	r := *l.Stale
	r.EnvKnown, r.EnvFailure = known, proof
	if h != nil {
		r.LinkWorks = h.State == HealthHealthy
		r.LinkRefused = h.State == HealthBroken && h.Cause.Refusal()
	}
	l.Stale = &r
}

// healthNow is what a probe of l found moments ago (within the health
// monitor's MinInterval), or a probe made now when probe is set: the only
// results that may tell whether the link's own credentials work now. nil
// when there is none (no monitor, or the link is busy).
func (s *Service) healthNow(ctx context.Context, l *Link, probe bool) *LinkHealth {
	if s.health == nil {
		return nil
	}
	if h, ok := s.health.cached(l.LocalConfigVar, l.Name); ok && time.Since(h.CheckedAt) < s.health.MinInterval {
		return &h
	}
	if !probe {
		return nil
	}
	h, err := s.health.Check(ctx, l.LocalConfigVar, l.Name, false)
	if err != nil {
		return nil
	}
	return &h
}

// judgeNow judges l for a page about it: with proof, and, when the
// remote refuses this pglinks' config var, with the link's health now.
func (s *Service) judgeNow(ctx context.Context, l *Link, proof fleet.Failure, known, probe bool) {
	s.judge(l, proof, known, nil)
	if l.Stale.EnvRefused() {
		s.judge(l, proof, known, s.healthNow(ctx, l, probe))
	}
}

// judgeAll judges the links of a card with the proofs known now, on a
// copy of its links (the snapshot's stay as they were read).
func (s *Service) judgeAll(st *DatabaseStatus) {
	var ls []Link
	for i, l := range st.Links {
		if !l.Stale.Differs() || l.Stale.RemoteGone || l.Stale.RemoteMisconfigured != "" {
			continue
		}
		remote, ok := s.Fleet.Get(l.RemoteConfigVar)
		if !ok {
			continue
		}
		if ls == nil {
			ls = append([]Link(nil), st.Links...)
		}
		proof, known := s.knownProof(remote)
		s.judge(&ls[i], proof, known, nil) // no probe on the request path
	}
	if ls != nil {
		st.Links = ls
	}
}

// proveForRepair proves l's remote's config var afresh for a repair and
// refuses the repair, in words, when it does not authenticate; probe lets
// it probe the link to say which side is newer (not under the link's
// lock: the probe would wait for it).
func (s *Service) proveForRepair(ctx context.Context, l *Link, probe bool) error {
	remote, err := s.database(l.RemoteConfigVar, "")
	if err != nil {
		return err
	}
	f, err := s.proveEnv(ctx, remote, fleet.ClassUser)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "Link %s was not repaired: pglinks could not prove %s's credentials now (%s). Try again in a moment.", l.Name, remote.ConfigVar, errs.MessageOf(err))
	}
	s.judgeNow(ctx, l, f, true, probe)
	switch {
	case f.OK():
		return nil
	case f.Cause.Refusal():
		return errs.Wrap(errs.Conflict, ErrEnvRefused, "%s Link %s was not repaired.", l.Stale.EnvNote(), l.Name)
	}
	return errs.E(errs.Unavailable, "Link %s cannot be repaired now: %s %s.", l.Name, remote.ConfigVar, f.Sentence(remote))
}
