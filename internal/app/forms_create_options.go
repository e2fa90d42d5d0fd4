package app

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/pglinks/pglinks/views"
)

// maxChosenTables bounds the LIMIT TO list a form may carry.
const maxChosenTables = 5000

// nameField is a name that addresses an existing object (a remote schema
// or table, a subscription, a slot) or a typed confirmation: kept verbatim,
// spaces included, since "twin " and "twin" are different names; invalid UTF-8 or an
// over-long value is replaced by a marker no remote name matches, so it is
// refused by name instead of being silently changed into another name.
func nameField(v string) string {
	if !utf8.ValidString(v) || len(v) > maxFieldLen || strings.IndexByte(v, 0) >= 0 {
		return "\uFFFD"
	}
	return v
}

// decodeCreateOptions reads the create form's choices. Ticked tables
// mean "only these" unless "All tables" was chosen in so many words
// (tables_mode=all, which the form sends only once someone picked it):
// ticks are never silently ignored, with or without JavaScript.
func decodeCreateOptions(form url.Values) views.CreateOptions {
	mode := form.Get("tables_mode")
	o := views.CreateOptions{
		RemoteSchema: nameField(form.Get("remote_schema")),
		AllChosen:    mode == "all",
		SomeTables:   mode == "some" || mode != "all" && len(form["table"]) > 0,
		ReadOnly:     form.Get("read_only") != "",
		TableFilter:  field(form, "table_filter"),
		Token:        field(form, "token"),
		ConnectLog:   form.Get("connect_trigger_log") != "",
	}
	for i, t := range form["table"] {
		if i >= maxChosenTables {
			break
		}
		o.Tables = append(o.Tables, nameField(t))
	}
	return o
}
