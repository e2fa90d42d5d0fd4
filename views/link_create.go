package views

import (
	"encoding/json"
	"sort"
)

// DBChoice is one database in the create form's lists.
type DBChoice struct {
	ConfigVar    string
	ResourceName string
	// Unusable names in a word or two why it cannot be chosen in this
	// list ("unreachable", "links not supported"), Unavailable says it
	// whole; the option is then disabled, in both lists alike.
	Unusable, Unavailable string
	// DefaultName is the link name used when the field is left empty and
	// this database is the remote.
	DefaultName string
	// Redis: the database is a Redis (a remote only).
	Redis bool
}

// DatabaseLabel is how every select names a fleet database: the resource
// name first, since that is what people recognise, then the config var.
func DatabaseLabel(resourceName, configVar string) string {
	return resourceName + " · " + configVar
}

// Label is the option text, with why it cannot be chosen.
func (d DBChoice) Label() string {
	s := DatabaseLabel(d.ResourceName, d.ConfigVar)
	if d.Redis {
		s += " (Redis)"
	}
	if d.Unusable != "" {
		s += " — " + d.Unusable
	}
	return s
}

// ExistingLink is a link already in the fleet, for the duplicate warning.
type ExistingLink struct {
	Local, Remote, Name string
}

// existingJSON is the map local -> remote -> link names that app.js uses to
// warn as soon as a remote already linked into the chosen local is picked.
func existingJSON(links []ExistingLink) string {
	m := map[string]map[string][]string{}
	for _, l := range links {
		if m[l.Local] == nil {
			m[l.Local] = map[string][]string{}
		}
		m[l.Local][l.Remote] = append(m[l.Local][l.Remote], l.Name)
	}
	for _, byRemote := range m {
		for _, names := range byRemote {
			sort.Strings(names)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// namePlaceholder is the name field's placeholder: the default for the
// chosen remote, or a hint when none is chosen yet.
func (f CreateForm) namePlaceholder() string {
	for _, d := range f.Remotes {
		if d.ConfigVar == f.Remote && d.DefaultName != "" {
			return d.DefaultName
		}
	}
	return "e.g. colorful_33594, from the remote's resource name"
}
