package app

import (
	"context"
	"sort"
	"strings"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
	"github.com/pglinks/pglinks/views"
)

// fleetChoices is what the create form needs to know about the fleet.
type fleetChoices struct {
	remotes, locals []views.DBChoice
	existing        []views.ExistingLink
	support         map[string]links.DatabaseStatus
}

// createChoices reads the fleet's status (bounded by the CreateForm
// deadline: a database that does not answer in time is listed as
// unavailable rather than holding up the form) to mark the locals where
// links cannot be made and to know the links already there.
func (a *App) createChoices(ctx context.Context) fleetChoices {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Fleet.Deadlines.CreateForm)
	defer cancel()
	out := fleetChoices{support: map[string]links.DatabaseStatus{}}
	for _, st := range a.cfg.Links.Inventory(ctx) {
		d := st.DB
		out.support[d.ConfigVar] = st
		remote := views.DBChoice{ConfigVar: d.ConfigVar, ResourceName: d.ResourceName, Redis: d.IsRedis()}
		if d.IsRedis() {
			// A Redis is only ever a remote.
			if !st.Pending && !st.Reachable {
				remote.Unusable, remote.Unavailable = "unreachable", "unreachable ("+st.Error+")"
			}
			out.remotes = append(out.remotes, remote)
			continue
		}
		local := views.DBChoice{ConfigVar: d.ConfigVar, ResourceName: d.ResourceName}
		// Both lists mark a database that does not answer the same way;
		// only a local needs links to be supported.
		switch {
		case st.Pending:
			// Not read in time: nothing is known, the create will tell.
		case !st.Reachable:
			reason := st.Error
			if _, after, ok := strings.Cut(reason, " is unreachable: "); ok {
				reason = after
			}
			remote.Unusable, remote.Unavailable = "unreachable", "unreachable ("+reason+")"
			local.Unusable, local.Unavailable = remote.Unusable, remote.Unavailable
		case !st.Support.OK:
			local.Unusable, local.Unavailable = "links not supported", st.Support.Reason
		}
		out.remotes = append(out.remotes, remote)
		out.locals = append(out.locals, local)
		for _, l := range st.Links {
			out.existing = append(out.existing, views.ExistingLink{Local: d.ConfigVar, Remote: l.RemoteConfigVar, Name: l.Name})
		}
	}
	return out
}

// duplicates names the links that already read remote into local.
func (fc fleetChoices) duplicates(local, remote string) []string {
	var names []string
	for _, l := range fc.existing {
		if l.Local == local && l.Remote == remote {
			names = append(names, l.Name)
		}
	}
	sort.Strings(names)
	return names
}

// defaultNames fills in the name each remote's link into local would get
// when the name is left empty (links.DefaultName, for the Heroku Connect
// schema chosen on remote too), with the links local already has taken.
// Create applies the same rule to local's catalog, so only a schema that
// is not a link could make it differ, and the preview says the name.
func (fc fleetChoices) defaultNames(f *views.CreateForm) {
	taken := map[string]bool{}
	for _, l := range fc.existing {
		if l.Local == f.Local {
			taken[l.Name] = true
		}
	}
	isTaken := func(n string) bool { return taken[n] }
	for i := range f.Remotes {
		r := &f.Remotes[i]
		connectSchema := ""
		if r.ConfigVar == f.Remote && f.ConnectSchema() != nil {
			connectSchema = f.SchemaOrPublic()
		}
		r.DefaultName = links.DefaultName(r.ResourceName, connectSchema, isTaken)
	}
}

// localFix is the inventory's explanation of why links cannot be made in
// local, or "" when they can (or it is not known).
func (fc fleetChoices) localFix(local string) string {
	st, ok := fc.support[local]
	if !ok || !st.Reachable || st.Support.OK {
		return ""
	}
	return st.Support.Reason
}

// suggestName offers a valid name after the name was refused: the input
// made valid, or with a suffix when the name is taken.
func suggestName(name string, kind errs.Kind) string {
	if kind == errs.Conflict && links.ValidateName(name) == nil {
		base := name
		if len(base) > fleet.MaxIdentLen-2 {
			base = base[:fleet.MaxIdentLen-2]
		}
		return base + "_2"
	}
	return links.SuggestName(name)
}
