package app

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/views"
)

// knownDB keeps v only when it names a fleet database.
func (a *App) knownDB(v string) string {
	if _, ok := a.cfg.Fleet.Get(v); ok {
		return v
	}
	return ""
}

func (a *App) publicationForm(c echo.Context, p views.NewPublicationPage) (views.NewPublicationPage, error) {
	p.Page = a.page(c, "New publication", "replication")
	p.Databases = a.cfg.Fleet.PostgresDatabases()
	if p.Errors == nil {
		p.Errors = views.FormErrors{}
	}
	if p.DB != "" {
		tables, err := a.cfg.Replication.Tables(c.Request().Context(), p.DB)
		if err != nil {
			if errs.KindOf(err) == errs.Internal {
				return p, err
			}
			p.Errors[""] = errs.MessageOf(err)
		}
		p.Tables = tables
	}
	return p, nil
}

func (a *App) newPublicationForm(c echo.Context) error {
	p, err := a.publicationForm(c, views.NewPublicationPage{DB: a.knownDB(c.QueryParam("db"))})
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.NewPublicationView(p))
}

func (a *App) createPublication(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	req := replication.PublicationRequest{ConfigVar: a.knownDB(field(form, "db")), Name: field(form, "name"), AllTables: form.Get("all_tables") != ""}
	chosen := map[string]bool{}
	for _, t := range form["tables"] {
		if len(req.Tables) < 1000 {
			req.Tables = append(req.Tables, t)
			chosen[t] = true
		}
	}
	page := views.NewPublicationPage{DB: req.ConfigVar, Name: req.Name, AllTables: req.AllTables, Chosen: chosen, Errors: views.FormErrors{}}
	if req.ConfigVar == "" {
		page.Errors["db"] = "Choose the database."
	}
	var pf *replication.Preflight
	var res *replication.Result
	if len(page.Errors) == 0 {
		if form.Get("step") == "create" {
			pf, res, err = a.cfg.Replication.CreatePublication(c.Request().Context(), req)
		} else {
			pf, err = a.cfg.Replication.PlanPublication(c.Request().Context(), req)
		}
	}
	target := req.ConfigVar + "/" + req.Name
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			a.audit(c, auth.ActionPublicationCreate, target, auth.OutcomeFailed, "internal error", "")
			return err
		}
		if form.Get("step") == "create" {
			a.audit(c, auth.ActionReplicationRefused, target, outcomeOf(err), errs.MessageOf(err), "")
		}
		page.Errors[errs.FieldOf(err)] = errs.MessageOf(err)
	}
	if res != nil {
		a.audit(c, auth.ActionPublicationCreate, target, auth.OutcomeOK, res.Message, sqlText(res.SQL))
		a.flash(c, flashOK, res.Message)
		return redirect(c, views.ReplicationPath(req.ConfigVar))
	}
	if pf != nil && !pf.OK() && form.Get("step") == "create" {
		a.audit(c, auth.ActionReplicationRefused, target, auth.OutcomeRefused, "preflight: "+joinProblems(pf.Problems), "")
	}
	page.Preflight = pf
	page, perr := a.publicationForm(c, page)
	if perr != nil {
		return perr
	}
	status := http.StatusOK
	if len(page.Errors) > 0 || (pf != nil && !pf.OK()) {
		status = http.StatusUnprocessableEntity
	}
	return Render(c, status, views.NewPublicationView(page))
}

func joinProblems(ps []string) string { return strings.Join(ps, " ") }

func (a *App) subscriptionForm(c echo.Context, p views.NewSubscriptionPage) (views.NewSubscriptionPage, error) {
	p.Page = a.page(c, "New subscription", "replication")
	p.Databases = a.cfg.Fleet.PostgresDatabases()
	if p.Errors == nil {
		p.Errors = views.FormErrors{}
	}
	if p.Publisher != "" && p.Publisher == p.Subscriber && !p.Errors.Has("subscriber") {
		p.Errors["subscriber"] = "Choose two different databases: a database cannot subscribe to itself."
	}
	if p.Publisher != "" {
		names, err := a.cfg.Replication.Publications(c.Request().Context(), p.Publisher)
		if err != nil {
			if errs.KindOf(err) == errs.Internal {
				return p, err
			}
			p.Errors["publisher"] = errs.MessageOf(err)
		}
		p.Publications = names
	}
	return p, nil
}

func (a *App) newSubscriptionForm(c echo.Context) error {
	p, err := a.subscriptionForm(c, views.NewSubscriptionPage{
		Publisher: a.knownDB(c.QueryParam("publisher")), Subscriber: a.knownDB(c.QueryParam("subscriber")), CopyData: true,
	})
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.NewSubscriptionView(p))
}

func (a *App) createSubscription(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	req := replication.SubscriptionRequest{
		PublisherVar: a.knownDB(field(form, "publisher")), SubscriberVar: a.knownDB(field(form, "subscriber")),
		Publication: field(form, "publication"), Name: field(form, "name"), CopyData: form.Get("copy_data") != "",
	}
	page := views.NewSubscriptionPage{Publisher: req.PublisherVar, Subscriber: req.SubscriberVar, Publication: req.Publication, Name: req.Name, CopyData: req.CopyData, Errors: views.FormErrors{}}
	if req.PublisherVar == "" {
		page.Errors["publisher"] = "Choose the publisher."
	}
	if req.SubscriberVar == "" {
		page.Errors["subscriber"] = "Choose the subscriber."
	}
	var pf *replication.Preflight
	var res *replication.Result
	if len(page.Errors) == 0 {
		if form.Get("step") == "create" {
			pf, res, err = a.cfg.Replication.CreateSubscription(c.Request().Context(), req)
		} else {
			pf, err = a.cfg.Replication.PlanSubscription(c.Request().Context(), req)
		}
	}
	target := req.SubscriberVar + "/" + req.Name
	if err != nil {
		if errs.KindOf(err) == errs.Internal {
			a.audit(c, auth.ActionSubscriptionCreate, target, auth.OutcomeFailed, "internal error", "")
			return err
		}
		if form.Get("step") == "create" {
			a.audit(c, auth.ActionReplicationRefused, target, outcomeOf(err), errs.MessageOf(err), "")
		}
		page.Errors[errs.FieldOf(err)] = errs.MessageOf(err)
	}
	if res != nil {
		a.audit(c, auth.ActionSubscriptionCreate, target, auth.OutcomeOK, res.Message, sqlText(res.SQL))
		a.flash(c, flashOK, res.Message)
		return redirect(c, views.ReplicationPath(req.SubscriberVar))
	}
	if pf != nil && !pf.OK() && form.Get("step") == "create" {
		a.audit(c, auth.ActionReplicationRefused, target, auth.OutcomeRefused, "preflight: "+joinProblems(pf.Problems), "")
	}
	page.Preflight = pf
	page, perr := a.subscriptionForm(c, page)
	if perr != nil {
		return perr
	}
	status := http.StatusOK
	if len(page.Errors) > 0 || (pf != nil && !pf.OK()) {
		status = http.StatusUnprocessableEntity
	}
	return Render(c, status, views.NewSubscriptionView(page))
}
