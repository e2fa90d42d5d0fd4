package views

import (
	"slices"
	"strings"

	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// CreateOptions are the create form's choices of what to import and how.
type CreateOptions struct {
	RemoteSchema string // "" means public
	SomeTables   bool   // import only Tables (LIMIT TO)
	// AllChosen is set when "All tables" was picked in so many words:
	// only then do ticked tables not count.
	AllChosen   bool
	Tables      []string // chosen tables
	ReadOnly    bool
	TableFilter string // narrows the checkbox list
	Token       string // from a preview: create runs exactly what it showed

	Catalog    *links.RemoteCatalog // the remote's schemas and tables, once loaded
	CatalogErr string               // why they could not be read

	Connect    []connect.Schema // the remote's Heroku Connect schemas (from its last status read)
	ConnectLog bool             // also import _trigger_log, for debugging
}

// TableFilterAt is how many remote tables make the form offer a filter.
const TableFilterAt = 20

// AllValue is the "All tables" radio's value: "all" once picked in so
// many words, else empty, so that a form sent with tables ticked (and no
// script to switch the mode) means "only these".
func (o CreateOptions) AllValue() string {
	if o.AllChosen && !o.SomeTables {
		return "all"
	}
	return ""
}

// Chosen reports whether table t is ticked.
func (o CreateOptions) Chosen(t string) bool { return slices.Contains(o.Tables, t) }

// SchemaOrPublic is the remote schema the form means.
func (o CreateOptions) SchemaOrPublic() string {
	if o.RemoteSchema == "" {
		return "public"
	}
	return o.RemoteSchema
}

// ShownTables are the remote tables the filter lets through.
func (o CreateOptions) ShownTables() []links.RemoteTable {
	if o.Catalog == nil {
		return nil
	}
	if o.TableFilter == "" {
		return o.Catalog.Tables
	}
	var out []links.RemoteTable
	f := strings.ToLower(o.TableFilter)
	for _, t := range o.Catalog.Tables {
		if strings.Contains(strings.ToLower(t.Name), f) {
			out = append(out, t)
		}
	}
	return out
}

// HiddenChosen are ticked tables the filter hides: they ride along as
// hidden inputs so filtering loses no choice. Names the remote does not
// have are dropped (the error message named them).
func (o CreateOptions) HiddenChosen() []string {
	if o.Catalog == nil {
		return nil
	}
	shown := map[string]bool{}
	for _, t := range o.ShownTables() {
		shown[t.Name] = true
	}
	var out []string
	for _, t := range o.Catalog.Tables {
		if !shown[t.Name] && o.Chosen(t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// CreatePreviewPage shows every statement a create would run.
type CreatePreviewPage struct {
	Page
	Form    CreateForm
	Preview *links.CreatePreview
}

// RefreshPage is the refresh confirmation.
type RefreshPage struct {
	Page
	Plan   *links.RefreshPlan
	Local  *fleet.Database
	Errors FormErrors
}
