package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

func (a *App) inventory(c echo.Context) error {
	query := strings.TrimSpace(c.QueryParam("q"))
	if len(query) > 200 {
		return errs.E(errs.Invalid, "The search is longer than 200 characters.")
	}
	pageNo := 1
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100_000 {
			return errs.E(errs.Invalid, "The page number %q is not a whole number from 1 up.", v)
		}
		pageNo = n
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.Fleet.Deadlines.FleetPage)
	defer cancel()
	warnings := a.replicationWarnings(ctx)
	all, readBy := a.cfg.Links.InventoryReadBy(ctx)
	matching := links.MatchInventory(all, query)
	from := min((pageNo-1)*views.DatabasesPerPage, len(matching))
	dbs := matching[from:min(from+views.DatabasesPerPage, len(matching))]
	health := a.cfg.Health.Lookup(dbs)
	p := views.InventoryPage{Page: a.page(c, "Databases", "databases"), Databases: dbs, ReplicationWarnings: warnings,
		Health: health, ReadBy: readBy, Fleet: len(all), Query: query, Matches: len(matching), PageNo: pageNo,
		CardSlot: func(i int) templ.Component { return templ.Raw(a.cards.slotMarker(i)) }}
	// The page around the cards, then each card as rendered once (see
	// inventory_cards.go).
	now := time.Now()
	cards := make([]*renderedCard, len(dbs))
	for i, st := range dbs {
		rc, err := a.cards.card(ctx, st, p.Viewer.IsAdmin, health, warnings[st.DB.ConfigVar], readBy[st.DB.ConfigVar], now)
		if err != nil {
			return err
		}
		cards[i] = rc
	}
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := views.Inventory(p).Render(ctx, buf); err != nil {
		return err
	}
	return a.cards.writeCardPage(c, http.StatusOK, buf.Bytes(), cards, p.Viewer.CSRF)
}

// refreshDatabase reads one database's card again now, whatever its
// snapshot's age or back-off.
func (a *App) refreshDatabase(c echo.Context) error {
	st, err := a.cfg.Links.RefreshStatus(c.Request().Context(), c.Param("db"))
	if err != nil {
		return err
	}
	if !st.Reachable {
		a.flash(c, flashErr, fmt.Sprintf("%s still does not answer: %s", st.DB.ConfigVar, st.Error))
	}
	return redirect(c, "/#db-"+url.PathEscape(st.DB.ConfigVar))
}

func (a *App) showLink(c echo.Context) error {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return err
	}
	filter := strings.TrimSpace(c.QueryParam("q"))
	pageNo := 1
	if v := c.QueryParam("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return errs.E(errs.Invalid, "The page number %q is not a whole number from 1 up.", v)
		}
		pageNo = n
	}
	l, tp, err := a.cfg.Links.LinkPage(c.Request().Context(), local.ConfigVar, c.Param("name"), filter, (pageNo-1)*views.TablesPerPage, views.TablesPerPage)
	if err != nil {
		return err
	}
	p := views.LinkPage{Page: a.page(c, l.Name, "databases"), Link: l, Local: local, Tables: tp.Tables, TablePage: tp,
		Health: a.cfg.Health.Get(local.ConfigVar, l.Name), Now: time.Now(), Conns: a.linkConns(c, l)}
	if !l.IsRedis() { // a Redis has no catalog to drift from, nor Connect schemas
		p.Drift, p.Connect = a.pageDrift(c, l, c.QueryParam("drift") == "now"), a.linkConnect(c, l)
		a.linkQuerySections(c, &p)
	}
	// Too heavy in full: first the Performance section's per-table lists
	// are cut to a few, then the column lists and drift details go.
	return RenderBounded(c, http.StatusOK, views.LinkPageBytes, 3, func(level int) templ.Component {
		q := p
		if level >= 1 && q.Perf != nil {
			perf := *q.Perf
			perf.Tables = perf.Tables[:min(len(perf.Tables), views.PerfListLean)]
			perf.Stats = perf.Stats[:min(len(perf.Stats), views.PerfListLean)]
			q.Perf = &perf
		}
		q.Compact = level >= 2
		return views.LinkView(q)
	})
}

func (a *App) createForm(c echo.Context, in createInput, formErrs views.FormErrors) views.CreateForm {
	return a.createFormWith(c, a.createChoices(c.Request().Context()), in, formErrs)
}

func (a *App) createFormWith(c echo.Context, fc fleetChoices, in createInput, formErrs views.FormErrors) views.CreateForm {
	f := views.CreateForm{
		Page:      a.page(c, "New data link", "databases"),
		Databases: a.cfg.Fleet.Databases,
		Remote:    in.Remote,
		Local:     in.Local,
		Name:      in.Name,
		CopyEnums: in.CopyEnums,
		Errors:    formErrs,
		Remotes:   fc.remotes,
		Locals:    fc.locals,
		Existing:  fc.existing,

		CreateOptions: in.CreateOptions,
		Redis:         in.Redis,
	}
	// "Create another link anyway", once ticked, stays ticked through
	// any other error, with what it confirms.
	if in.DuplicateOK {
		if f.Duplicates = fc.duplicates(in.Local, in.Remote); len(f.Duplicates) > 0 {
			f.DuplicateOK = true
		}
	}
	// Once the remote is chosen, offer its schemas and tables, read with
	// pglinks' own bounded connection (a Redis has none: its form offers
	// tables by key type and prefix).
	if d, ok := a.cfg.Fleet.Get(in.Remote); ok && !d.IsRedis() {
		cat, err := a.cfg.Links.ReadRemoteCatalog(c.Request().Context(), in.Remote, in.RemoteSchema)
		if err != nil {
			f.CatalogErr = errs.MessageOf(err)
		} else {
			f.Catalog = cat
		}
		a.connectDefaults(fc, &f)
	}
	fc.defaultNames(&f)
	return f
}

func (a *App) newLinkForm(c echo.Context) error {
	in := createInput{CopyEnums: true}
	if v := c.QueryParam("local"); v != "" {
		if _, ok := a.cfg.Fleet.Get(v); ok {
			in.Local = v
		}
	}
	if v := c.QueryParam("remote"); v != "" {
		if _, ok := a.cfg.Fleet.Get(v); ok {
			in.Remote = v
		}
	}
	in.RemoteSchema = nameField(c.QueryParam("remote_schema"))
	return Render(c, http.StatusOK, views.CreateLinkView(a.createForm(c, in, nil)))
}

// createRequest is the domain request the form asks for.
func createRequest(in createInput, actor string) links.CreateRequest {
	req := links.CreateRequest{
		RemoteVar: in.Remote, LocalVar: in.Local, Name: in.Name, CopyEnums: in.CopyEnums, Actor: actor,
		RemoteSchema: in.RemoteSchema, ReadOnly: in.ReadOnly, Token: in.Token, ConnectTriggerLog: in.ConnectLog,
		RedisTables: in.Redis.Tables, Writable: in.Redis.Writable,
	}
	if in.SomeTables {
		req.Tables = append([]string{}, in.Tables...)
	}
	return req
}

// createLink serves the create form's three buttons: "Load tables" (op
// load) re-renders the form for the chosen remote and schema, "Preview
// SQL" (op preview) shows what create would run, and "Create link" runs it.
func (a *App) createLink(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	in := decodeCreateForm(form)
	op := form.Get("op")
	if op == "load" {
		in.Token = ""
		return Render(c, http.StatusOK, views.CreateLinkView(a.createForm(c, in, nil)))
	}
	formErrs := views.FormErrors{}
	if in.Remote == "" {
		formErrs["remote"] = "Choose the remote database."
	}
	if in.Local == "" {
		formErrs["local"] = "Choose the local database."
	}
	if len(formErrs) > 0 {
		return Render(c, http.StatusUnprocessableEntity, views.CreateLinkView(a.createForm(c, in, formErrs)))
	}
	fc := a.createChoices(c.Request().Context())
	if in.Name == "" {
		// The one default-name rule, on the local's catalog: what the
		// form showed, unless a schema that is not a link has that name.
		if name, err := a.cfg.Links.DefaultLinkName(c.Request().Context(), in.Remote, in.Local, in.RemoteSchema); err == nil {
			in.Name = name
		}
	}
	if dups := fc.duplicates(in.Local, in.Remote); len(dups) > 0 && !in.DuplicateOK {
		in.Token = ""
		f := a.createFormWith(c, fc, in, formErrs)
		f.Duplicates = dups
		return Render(c, http.StatusConflict, views.CreateLinkView(f))
	}
	s := session(c)
	// refused re-renders the form with the domain's message where it
	// belongs, the inventory's fix for a local that cannot take links, and
	// a valid name suggested for a refused one.
	refused := func(err error) error {
		field, msg := errs.FieldOf(err), errs.MessageOf(err)
		if fix := fc.localFix(in.Local); field == "local" && fix != "" && !strings.Contains(msg, fix) {
			msg += " " + fix
		}
		formErrs[field] = msg
		in.Token = ""
		f := a.createFormWith(c, fc, in, formErrs)
		if field == "name" {
			f.Suggestion = suggestName(in.Name, errs.KindOf(err))
		}
		return Render(c, statusOf(errs.KindOf(err)), views.CreateLinkView(f))
	}
	if op == "preview" {
		in.Token = ""
		p, err := a.cfg.Links.PreviewCreate(c.Request().Context(), createRequest(in, s.User.Email))
		if err != nil {
			if errs.KindOf(err) == errs.Internal {
				return err
			}
			return refused(err)
		}
		in.Token = p.Token
		f := views.CreateForm{Page: a.page(c, "Preview of link "+p.Name, "databases"), Remote: in.Remote, Local: in.Local, Name: in.Name, CopyEnums: in.CopyEnums, DuplicateOK: in.DuplicateOK, CreateOptions: in.CreateOptions, Redis: in.Redis}
		return Render(c, http.StatusOK, views.CreatePreviewView(views.CreatePreviewPage{Page: f.Page, Form: f, Preview: p}))
	}
	res, err := a.cfg.Links.CreateLink(c.Request().Context(), createRequest(in, s.User.Email))
	target := in.Local + "/" + in.Name
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkCreate, auth.ActionLinkCreateRefused, target, err)
		if errs.KindOf(err) == errs.Internal {
			return err
		}
		return refused(err)
	}
	target = in.Local + "/" + res.Link.Name
	a.audit(c, auth.ActionLinkCreate, target, auth.OutcomeOK, createdDetail(in.Remote, res), sqlText(res.DDL))
	a.flash(c, flashOK, fmt.Sprintf("Link %s created in %s with %d foreign tables.", res.Link.Name, in.Local, res.Tables))
	return redirect(c, views.LinkPath(in.Local, res.Link.Name))
}

// createdDetail is a create's audit detail.
func createdDetail(remoteVar string, res *links.CreateResult) string {
	detail := fmt.Sprintf("from %s (%s), %d foreign tables", remoteVar, res.Link.RemoteResourceName, res.Tables)
	switch {
	case res.Link.IsRedis() && res.Link.ReadOnly:
		detail += "; a Redis link, read-only"
	case res.Link.IsRedis():
		detail += "; a Redis link, writable (not transactional)"
	}
	if len(res.CopiedTypes) > 0 {
		detail += "; copied enum types " + strings.Join(res.CopiedTypes, ", ")
	}
	if len(res.ExtendedTypes) > 0 {
		detail += "; added the remote's labels to enum types " + strings.Join(res.ExtendedTypes, ", ")
	}
	return detail
}

// destroyedDetail is a destroy's audit detail and what the user is told.
func destroyedDetail(localVar, name string, res *links.DestroyResult) (detail, msg string) {
	detail = fmt.Sprintf("link to %s (%s)", res.Link.RemoteConfigVar, res.Link.RemoteResourceName)
	if n := len(res.Dependents); n > 0 {
		var ds []string
		for _, d := range res.Dependents {
			ds = append(ds, d.Type+" "+d.Identity)
		}
		detail += fmt.Sprintf("; also dropped %s: %s", views.Plural(n, "dependent object", "dependent objects"), strings.Join(ds, ", "))
	}
	msg = fmt.Sprintf("Link %s destroyed in %s.", name, localVar)
	for _, t := range res.Types {
		if t.Drop {
			detail += "; dropped copied enum " + t.Type
		} else {
			detail += "; kept copied enum " + t.Type + ": " + t.Reason
			msg += fmt.Sprintf(" Kept the enum type %s: %s.", t.Type, t.Reason)
		}
	}
	return detail, msg
}

// auditRefusal audits a link change that did not happen: an internal
// error as action failed (its details stay in the log), anything else as
// refused, with the message the user sees.
func (a *App) auditRefusal(c echo.Context, action, refused, target string, err error) {
	if errs.KindOf(err) == errs.Internal {
		a.audit(c, action, target, auth.OutcomeFailed, "internal error", "")
		return
	}
	a.audit(c, refused, target, outcomeOf(err), errs.MessageOf(err), "")
}

func outcomeOf(err error) string {
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.Forbidden, errs.NotFound:
		return auth.OutcomeRefused
	}
	return auth.OutcomeFailed
}

func (a *App) destroyPage(c echo.Context, in destroyInput, formErrs views.FormErrors) (views.DestroyPage, error) {
	local, err := a.cfg.Fleet.Lookup(c.Param("db"))
	if err != nil {
		return views.DestroyPage{}, err
	}
	plan, err := a.cfg.Links.PlanDestroy(c.Request().Context(), local.ConfigVar, c.Param("name"))
	if err != nil {
		return views.DestroyPage{}, err
	}
	return views.DestroyPage{
		Page:    a.page(c, "Destroy "+plan.Link.Name, "databases"),
		Plan:    plan,
		Local:   local,
		Confirm: in.Confirm,
		Errors:  formErrs,
	}, nil
}

func (a *App) confirmDestroy(c echo.Context) error {
	p, err := a.destroyPage(c, destroyInput{}, nil)
	if err != nil {
		if errs.Is(err, errs.Forbidden) {
			a.audit(c, auth.ActionLinkDestroyRefused, c.Param("db")+"/"+c.Param("name"), auth.OutcomeRefused, errs.MessageOf(err), "")
		}
		return err
	}
	return Render(c, http.StatusOK, views.DestroyView(p))
}

func (a *App) destroyLink(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return errs.E(errs.Invalid, "The form could not be read.")
	}
	in := decodeDestroyForm(form)
	localVar, name := c.Param("db"), c.Param("name")
	target := localVar + "/" + name
	res, err := a.cfg.Links.DestroyLink(c.Request().Context(), links.DestroyRequest{
		LocalVar: localVar, Name: name, Confirm: in.Confirm, Fingerprint: in.Fingerprint, Actor: session(c).User.Email,
	})
	if err != nil {
		a.auditRefusal(c, auth.ActionLinkDestroy, auth.ActionLinkDestroyRefused, target, err)
		kind := errs.KindOf(err)
		if kind != errs.Invalid && kind != errs.Conflict {
			return err
		}
		// Show the confirmation again, re-read, with the message.
		p, perr := a.destroyPage(c, in, views.FormErrors{errs.FieldOf(err): errs.MessageOf(err)})
		if perr != nil {
			return perr
		}
		return Render(c, statusOf(kind), views.DestroyView(p))
	}
	detail, msg := destroyedDetail(localVar, name, res)
	a.audit(c, auth.ActionLinkDestroy, target, auth.OutcomeOK, detail, sqlText(res.DDL))
	a.cfg.Health.Forget(localVar, name)
	a.flash(c, flashOK, msg)
	return redirect(c, "/")
}

// audit records an action; a failure to record is logged, not shown, so it
// never turns a done change into an error page.
func (a *App) audit(c echo.Context, action, target, outcome, detail, ddl string) {
	a.auditAs(c, actor(c), action, target, outcome, detail, ddl)
}

func (a *App) auditAs(c echo.Context, actor, action, target, outcome, detail, ddl string) {
	// The audit row must be written even when the request was cancelled or
	// ran out of time: that is when it matters most. Record bounds itself.
	err := a.cfg.Auth.Record(context.WithoutCancel(c.Request().Context()), auth.AuditEntry{
		Actor: actor, Action: action, Target: target, Outcome: outcome, Detail: detail, DDL: ddl, RemoteAddr: c.RealIP(),
	})
	if err != nil {
		a.log.Error("audit record failed", "action", action, "target", target, "err", err)
	}
}
