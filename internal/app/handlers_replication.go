package app

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/views"
)

// replicationInput names a subscription or slot: query on GETs, form on
// POSTs (names may hold any character, so they stay out of the path). The
// names and the typed confirmation are taken exactly as sent: "twin " and
// "twin" are two subscriptions.
type replicationInput struct {
	DB, Name, Confirm string
	Fingerprint       string // the drop plan's the confirmation showed
}

func decodeReplicationForm(form url.Values) replicationInput {
	return replicationInput{DB: nameField(form.Get("db")), Name: nameField(form.Get("name")), Confirm: nameField(form.Get("confirm")), Fingerprint: nameField(form.Get("fingerprint"))}
}

// replicationPage reads every fleet database now, so what it shows after
// a change is read after it; the search (?q=) matches as the inventory's
// does, and the databases with nothing to show fold into one line.
func (a *App) replicationPage(c echo.Context) error {
	query := strings.TrimSpace(c.QueryParam("q"))
	if len(query) > 200 {
		return errs.E(errs.Invalid, "The search is longer than 200 characters.")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.FleetPage)
	defer cancel()
	o := a.cfg.Replication.Overview(ctx)
	shown, empty := replication.Sorted(o.Match(query))
	return Render(c, http.StatusOK, views.ReplicationView(views.ReplicationPage{
		Page: a.page(c, "Replication", "replication"), Overview: o, Query: query, Shown: shown, Empty: empty,
		OrphanAfter: a.cfg.Replication.OrphanAfter,
	}))
}

// replicationWarnings reads the fleet's replication warnings for the
// inventory cards.
func (a *App) replicationWarnings(ctx context.Context) map[string][]replication.Warning {
	var o *replication.Overview
	if a.cfg.Fleet.SnapshotMaxAge > 0 {
		// Read in the background with the cards: no page view waits.
		o = a.cfg.Replication.BackgroundOverview()
	} else {
		o = a.cfg.Replication.RecentOverview(ctx, 0)
	}
	out := map[string][]replication.Warning{}
	for _, w := range o.Warnings {
		out[w.ConfigVar] = append(out[w.ConfigVar], w)
	}
	return out
}

func target(in replicationInput) string { return in.DB + "/" + in.Name }

// replicationChange wraps a replication change: once it answered, the
// replication state of the databases its form names is read again, so
// the inventory's warnings show the change at once.
func (a *App) replicationChange(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if form, ferr := c.FormParams(); ferr == nil {
			for _, f := range []string{"db", "publisher", "subscriber"} {
				if v := form.Get(f); v != "" {
					a.cfg.Replication.RefreshState(c.Request().Context(), v)
				}
			}
		}
		return err
	}
}

func (a *App) setSubscriptionEnabled(enable bool) echo.HandlerFunc {
	action := auth.ActionSubscriptionDisable
	if enable {
		action = auth.ActionSubscriptionEnable
	}
	return func(c echo.Context) error {
		form, err := c.FormParams()
		if err != nil {
			return errs.E(errs.Invalid, "The form could not be read.")
		}
		in := decodeReplicationForm(form)
		res, err := a.cfg.Replication.SetEnabled(c.Request().Context(), in.DB, in.Name, enable)
		if err != nil {
			return a.replicationFailed(c, action, in, err)
		}
		a.audit(c, action, target(in), auth.OutcomeOK, res.Message, sqlText(res.SQL))
		a.flash(c, flashOK, res.Message)
		return redirect(c, views.ReplicationPath(in.DB))
	}
}

// replicationFailed audits a refused or failed change and answers with a
// flash on the replication page (or the error page for internal errors).
func (a *App) replicationFailed(c echo.Context, action string, in replicationInput, err error) error {
	a.auditReplicationFailure(c, action, target(in), err)
	if errs.KindOf(err) == errs.Internal {
		return err
	}
	a.flash(c, flashErr, errs.MessageOf(err))
	return redirect(c, views.ReplicationPath(in.DB))
}

// auditReplicationFailure audits a replication change that did not
// happen: failed for an internal error, refused (as replication_refused)
// when pglinks said no, failed otherwise.
func (a *App) auditReplicationFailure(c echo.Context, action, target string, err error) {
	if errs.KindOf(err) == errs.Internal {
		a.audit(c, action, target, auth.OutcomeFailed, "internal error", "")
		return
	}
	outcome := outcomeOf(err)
	if outcome == auth.OutcomeRefused {
		action = auth.ActionReplicationRefused
	}
	a.audit(c, action, target, outcome, errs.MessageOf(err), "")
}

func sqlText(stmts []string) string { return strings.Join(stmts, ";\n") + ";" }

func (a *App) dropSubscriptionPage(c echo.Context, in replicationInput, formErrs views.FormErrors) (views.DropSubscriptionPage, error) {
	plan, err := a.cfg.Replication.PlanDropSubscription(c.Request().Context(), in.DB, in.Name)
	if err != nil {
		return views.DropSubscriptionPage{}, err
	}
	return views.DropSubscriptionPage{Page: a.page(c, "Drop subscription "+plan.Sub.Name, "replication"), Plan: plan, Confirm: in.Confirm, Errors: formErrs}, nil
}

func (a *App) confirmDropSubscription(c echo.Context) error {
	in := replicationInput{DB: c.QueryParam("db"), Name: c.QueryParam("name")}
	p, err := a.dropSubscriptionPage(c, in, nil)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.DropSubscriptionView(p))
}

func (a *App) dropSubscription(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	in := decodeReplicationForm(form)
	res, err := a.cfg.Replication.DropSubscription(c.Request().Context(), replication.DropSubscriptionRequest{ConfigVar: in.DB, Name: in.Name, Confirm: in.Confirm, Fingerprint: pageFingerprint(in.Fingerprint)})
	if err != nil {
		// A typo, or a subscription pointed at another slot since the page
		// was shown: the page again, with the plan as it is now.
		if errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict) {
			a.audit(c, auth.ActionReplicationRefused, target(in), auth.OutcomeRefused, errs.MessageOf(err), "")
			p, perr := a.dropSubscriptionPage(c, in, views.FormErrors{errs.FieldOf(err): errs.MessageOf(err)})
			if perr != nil {
				return perr
			}
			status := http.StatusUnprocessableEntity
			if errs.Is(err, errs.Conflict) {
				status = http.StatusConflict
			}
			return Render(c, status, views.DropSubscriptionView(p))
		}
		return a.replicationFailed(c, auth.ActionSubscriptionDrop, in, err)
	}
	a.audit(c, auth.ActionSubscriptionDrop, target(in), auth.OutcomeOK, res.Message, sqlText(res.SQL))
	kind := flashOK
	if res.SafePath {
		kind = flashErr // the admin has a slot to clean up: keep it visible as a warning
	}
	a.flash(c, kind, res.Message)
	return redirect(c, "/replication")
}

// pageFingerprint is the fingerprint a confirmation form sent; a form
// without one (not from the confirmation page) matches no plan.
func pageFingerprint(fp string) string {
	if fp == "" {
		return "\x00"
	}
	return fp
}

func (a *App) dropSlotPage(c echo.Context, in replicationInput, formErrs views.FormErrors) (views.DropSlotPage, error) {
	plan, err := a.cfg.Replication.PlanDropSlot(c.Request().Context(), in.DB, in.Name)
	if err != nil {
		return views.DropSlotPage{}, err
	}
	return views.DropSlotPage{Page: a.page(c, "Drop slot "+plan.Slot.Name, "replication"), Plan: plan, Confirm: in.Confirm, Errors: formErrs}, nil
}

func (a *App) confirmDropSlot(c echo.Context) error {
	in := replicationInput{DB: c.QueryParam("db"), Name: c.QueryParam("name")}
	p, err := a.dropSlotPage(c, in, nil)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.DropSlotView(p))
}

func (a *App) dropSlot(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	in := decodeReplicationForm(form)
	res, err := a.cfg.Replication.DropSlot(c.Request().Context(), replication.DropSlotRequest{ConfigVar: in.DB, Name: in.Name, Confirm: in.Confirm, Fingerprint: pageFingerprint(in.Fingerprint)})
	if err != nil {
		if errs.Is(err, errs.Invalid) {
			a.audit(c, auth.ActionReplicationRefused, target(in), auth.OutcomeRefused, errs.MessageOf(err), "")
			p, perr := a.dropSlotPage(c, in, views.FormErrors{errs.FieldOf(err): errs.MessageOf(err)})
			if perr != nil {
				return perr
			}
			return Render(c, http.StatusUnprocessableEntity, views.DropSlotView(p))
		}
		return a.replicationFailed(c, auth.ActionSlotDrop, in, err)
	}
	a.audit(c, auth.ActionSlotDrop, target(in), auth.OutcomeOK, res.Message, sqlText(res.SQL))
	a.flash(c, flashOK, res.Message)
	return redirect(c, "/replication")
}
