package views

import (
	"strconv"
	"strings"

	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/internal/replication"
)

// ConnectSection is the link page's view of a Heroku Connect schema the
// link reads: its sync state, read from the remote with pglinks' own
// connection.
type ConnectSection struct {
	RemoteVar string
	Schema    string
	State     *connect.SyncState // nil when it could not be read
	Err       string             // why not
}

// ConnectSchema is the chosen remote schema when it is a Heroku Connect
// schema, or nil.
func (o CreateOptions) ConnectSchema() *connect.Schema {
	return connect.Find(o.Connect, o.SchemaOrPublic())
}

// SchemaLabel is how the remote schema select shows sch.
func (o CreateOptions) SchemaLabel(sch string) string {
	if connect.Find(o.Connect, sch) != nil {
		return sch + " (Heroku Connect)"
	}
	return sch
}

// IsConnectSystem reports whether t is a Connect system table of the
// chosen schema.
func (o CreateOptions) IsConnectSystem(t string) bool {
	return o.ConnectSchema() != nil && connect.IsSystemTable(t)
}

// ApplyConnectDefaults makes a freshly chosen Connect schema import its
// mapped tables only, read-only. It leaves alone a form where the user
// already chose some of the mapped tables.
func (o *CreateOptions) ApplyConnectDefaults() {
	sch := o.ConnectSchema()
	if sch == nil {
		return
	}
	for _, t := range o.Tables {
		for _, m := range sch.Mapped {
			if t == m {
				return
			}
		}
	}
	o.SomeTables = true
	o.Tables = append([]string{}, sch.Mapped...)
	if o.ConnectLog {
		o.Tables = append(o.Tables, connect.TableTriggerLog)
	}
	o.ReadOnly = true
}

// opLabel names an _hc_lastop value ("" is NULL).
func opLabel(op string) string {
	if op == "" {
		return "NULL"
	}
	return op
}

// groupInt writes n with thousands separators.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// rowsText is a table's row count as the page says it.
func rowsText(ts connect.TableState) string {
	switch {
	case ts.RowsAtLeast:
		return "more than " + groupInt(ts.Rows) + " rows"
	case ts.RowsEstimated:
		return "about " + groupInt(ts.Rows) + " rows (estimate)"
	case ts.Rows == 1:
		return "1 row"
	}
	return groupInt(ts.Rows) + " rows"
}

// countText is one _hc_lastop count as the page says it.
func countText(ts connect.TableState, c connect.OpCount) string {
	switch {
	case c.AtLeast:
		return "more than " + groupInt(c.N)
	case ts.CountsHow == "sample" || c.Estimated:
		return "about " + groupInt(c.N)
	}
	return groupInt(c.N)
}

// countsHowText says how a table's counts were made.
func countsHowText(ts connect.TableState) string {
	switch ts.CountsHow {
	case "index":
		return "counted through the index on _hc_lastop; the large ones (“about”) are the planner’s estimates"
	case "sample":
		return "estimated from a sample of the table (no index on _hc_lastop)"
	}
	return "exact"
}

func mappedText(n int) string {
	if n == 1 {
		return "1 mapped table"
	}
	return strconv.Itoa(n) + " mapped tables"
}

// ConnectMessagePage shows one stored message.
type ConnectMessagePage struct {
	Page
	Local   *fleet.Database
	Link    *links.Link
	Schema  string
	Message *connect.Message
}

// sizeText is a size in bytes for people.
func sizeText(n int64) string { return replication.HumanBytes(n) }

// failedShown says how many of a table's FAILED rows the page lists, when
// it lists fewer than there are or looked among the latest rows only.
func failedShown(ts connect.TableState) string {
	var parts []string
	if c := ts.Count("FAILED"); c != nil && c.N > int64(len(ts.Failed)) {
		parts = append(parts, "the latest "+itoa(len(ts.Failed))+" of "+countText(ts, *c))
	}
	if ts.FailedScope != "" {
		parts = append(parts, ts.FailedScope)
	}
	return strings.Join(parts, ", ")
}

// logShown says how many of the FAILED _trigger_log entries the page
// lists, when it lists fewer than there are.
func logShown(st *connect.SyncState) string {
	n := itoa(len(st.TriggerLog))
	switch {
	case len(st.TriggerLog) == 0:
		return ""
	case st.TriggerLogFailedAtLeast:
		return "the latest " + n + " of more than " + groupInt(st.TriggerLogFailed)
	case st.TriggerLogFailed > int64(len(st.TriggerLog)):
		return "the latest " + n + " of " + groupInt(st.TriggerLogFailed)
	case st.TriggerLogFailed < 0:
		return "the latest " + n + "; the rest were not counted in time"
	}
	return ""
}

// wholeID is id, or "" when it was cut (no message can be asked for by it).
func wholeID(id string, cut bool) string {
	if cut {
		return ""
	}
	return id
}
