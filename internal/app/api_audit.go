package app

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/errs"
)

// apiMaxAuditLimit bounds a page of the audit trail (one more entry is
// read, to know whether there is a next page, within auth.MaxAuditLimit).
const apiMaxAuditLimit = auth.MaxAuditLimit / 2

type apiAuditEntryJSON struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	Target     string    `json:"target"`
	Outcome    string    `json:"outcome"`
	Detail     string    `json:"detail"`
	DDL        string    `json:"ddl"`
	RemoteAddr string    `json:"remote_addr"`
}

type apiAuditJSON struct {
	Entries []apiAuditEntryJSON `json:"entries"`
	// NextBefore is the before= of the next (older) page; null on the last.
	NextBefore *int64 `json:"next_before"`
}

// apiAudit is the audit trail, newest first, with the audit page's
// filters (target, action, from, to, before) and limit entries a page.
func (a *App) apiAudit(c echo.Context) error {
	aq, f := parseAuditQuery(c.QueryParams())
	if len(aq.Errors) > 0 {
		fields := make([]string, 0, len(aq.Errors))
		for k := range aq.Errors {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		field := fields[0]
		if field == "" {
			field = "before"
		}
		return errs.E(errs.Invalid, "%s", aq.Errors[fields[0]]).OnField(field)
	}
	limit := auditPageSize
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > apiMaxAuditLimit {
			return errs.E(errs.Invalid, "limit %q is not a whole number from 1 to %d.", v, apiMaxAuditLimit).OnField("limit")
		}
		limit = n
	}
	f.Limit = limit + 1
	entries, err := a.cfg.Auth.ListAudit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := apiAuditJSON{Entries: []apiAuditEntryJSON{}}
	if len(entries) > limit {
		entries = entries[:limit]
		next := entries[len(entries)-1].ID
		out.NextBefore = &next
	}
	for _, e := range entries {
		out.Entries = append(out.Entries, apiAuditEntryJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Outcome: e.Outcome, Detail: e.Detail, DDL: e.DDL, RemoteAddr: e.RemoteAddr})
	}
	return writeJSON(c, http.StatusOK, out)
}
