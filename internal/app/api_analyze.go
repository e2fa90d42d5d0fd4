package app

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// "Analyze foreign tables" through the API (admin), as the Performance
// section's button: one table per transaction under the link's lock, the
// run bounded (fleet.Deadlines.AnalyzeTable, AnalyzeAll), audited as the
// page audits it. A run that stops says how many tables are left; the
// next run continues with them. The section itself is GET .../performance.

type apiAnalyzeFailureJSON struct {
	Table  string `json:"table"`
	Reason string `json:"reason"`
}

type apiAnalyzedJSON struct {
	Total     int                     `json:"total"`
	Analyzed  []string                `json:"analyzed"`
	Failed    []apiAnalyzeFailureJSON `json:"failed"`
	Remaining int                     `json:"remaining"`
	ElapsedMs int64                   `json:"elapsed_ms"`
	SQL       []string                `json:"sql"` // the ANALYZE statements that ran
	Message   string                  `json:"message"`
}

func (a *App) apiAnalyzeTables(c echo.Context) error {
	local, err := a.localOf(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	res, msg, err := a.analyzeLink(c, local.ConfigVar, c.Param("name"))
	if err != nil {
		return err
	}
	out := apiAnalyzedJSON{Total: res.Total, Analyzed: nonNil(res.Analyzed), Failed: []apiAnalyzeFailureJSON{}, Remaining: res.Remaining,
		ElapsedMs: res.Elapsed.Milliseconds(), SQL: nonNil(res.DDL), Message: msg}
	for _, f := range res.Failed {
		out.Failed = append(out.Failed, apiAnalyzeFailureJSON{Table: f.Table, Reason: f.Reason})
	}
	return writeJSON(c, http.StatusOK, out)
}
