package app

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/views"
)

const (
	auditPageSize = 100
	// auditCSVMax bounds an export; narrow the filter for more.
	auditCSVMax = 50000
	dateLayout  = "2006-01-02"
)

// auditQuery is the audit page's filter as typed, and what was wrong with it.
type auditQuery struct {
	Target, Action, From, To string
	Before                   int64
	Errors                   views.FormErrors
}

// parseAuditQuery reads the filter; a bad part is reported on its field and
// left out of the filter, so the page still renders.
func parseAuditQuery(q url.Values) (auditQuery, auth.AuditFilter) {
	aq := auditQuery{
		Target: field(q, "target"), Action: field(q, "action"),
		From: field(q, "from"), To: field(q, "to"), Errors: views.FormErrors{},
	}
	f := auth.AuditFilter{Target: aq.Target}
	if aq.Action != "" {
		if slices.Contains(auth.Actions, aq.Action) {
			f.Action = aq.Action
		} else {
			aq.Errors["action"] = "Unknown action “" + aq.Action + "”: choose one from the list."
		}
	}
	if aq.From != "" {
		if t, err := time.Parse(dateLayout, aq.From); err == nil {
			f.Since = t
		} else {
			aq.Errors["from"] = "Give the start date as YYYY-MM-DD."
		}
	}
	if aq.To != "" {
		if t, err := time.Parse(dateLayout, aq.To); err == nil {
			f.Until = t.AddDate(0, 0, 1) // the whole day
		} else {
			aq.Errors["to"] = "Give the end date as YYYY-MM-DD."
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		aq.Errors["to"] = "The end date is before the start date."
		f.Until = time.Time{}
	}
	if v := field(q, "before"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			aq.Before, f.BeforeID = n, n
		} else {
			aq.Errors[""] = "The page marker is not valid; showing the newest entries."
		}
	}
	return aq, f
}

// query is the filter as URL parameters, for "older" and CSV links.
func (aq auditQuery) query() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"target": aq.Target, "action": aq.Action, "from": aq.From, "to": aq.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func (a *App) auditTrail(c echo.Context) error {
	aq, f := parseAuditQuery(c.QueryParams())
	f.Limit = auditPageSize + 1
	entries, err := a.cfg.Auth.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	p := views.AuditPage{
		Page: a.page(c, "Audit", "audit"), Target: aq.Target, Action: aq.Action, Actions: auth.Actions,
		From: aq.From, To: aq.To, Errors: aq.Errors, Query: aq.query().Encode(),
	}
	if len(entries) > auditPageSize {
		entries = entries[:auditPageSize]
		p.NextBefore = entries[len(entries)-1].ID
	}
	p.Entries = entries
	status := http.StatusOK
	if len(aq.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return Render(c, status, views.AuditView(p))
}

// auditExportTimeout bounds reading the audit trail for an export, which
// may be long.
const auditExportTimeout = 30 * time.Second

// auditCSV exports the filtered audit trail. Cells that a spreadsheet
// would run as a formula are prefixed with a quote.
func (a *App) auditCSV(c echo.Context) error {
	aq, f := parseAuditQuery(c.QueryParams())
	if len(aq.Errors) > 0 {
		return a.auditTrail(c)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), auditExportTimeout)
	defer cancel()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="pglinks-audit-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write([]string{"id", "at", "actor", "action", "target", "outcome", "detail", "ddl", "remote_addr"}); err != nil {
		return nil
	}
	written := 0
	f.Limit = auth.MaxAuditLimit
	for written < auditCSVMax {
		entries, err := a.cfg.Auth.ListAudit(ctx, f)
		if err != nil {
			a.log.Error("audit export", "err", err)
			w.Write([]string{"", "", "", "", "", "", "export stopped: could not read the audit trail"})
			break
		}
		for _, e := range entries {
			w.Write(csvSafe(strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Outcome, e.Detail, e.DDL, e.RemoteAddr))
			written++
		}
		if len(entries) < f.Limit {
			break
		}
		f.BeforeID = entries[len(entries)-1].ID
	}
	w.Flush()
	return nil
}

// csvSafe defuses spreadsheet formulas (CSV injection): a cell that starts
// with = + - @ (or a tab or carriage return), after any spaces and quotes,
// gets a leading quote, and so does such a character after a separator
// inside a cell (, ; tab or a line break): a spreadsheet whose locale
// splits lines at ";" reads "x;=cmd|..." as two cells, the second a
// formula. Anyone reaches the export with what they type: a failed
// sign-in keeps the typed email.
func csvSafe(cells ...string) []string {
	for i, s := range cells {
		s = formulaAfterSeparator.ReplaceAllString(s, "$1'$2")
		if t := strings.TrimLeft(s, ` "`); t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
			s = "'" + s
		}
		cells[i] = s
	}
	return cells
}

var formulaAfterSeparator = regexp.MustCompile(`([,;\t\r\n][ "]*)([=+\-@])`)
