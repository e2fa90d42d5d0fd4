package views

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pglinks/pglinks/internal/links"
)

// Filtering the table list keeps ticks on tables it hides, and drops names
// the remote does not have.
func TestCreateOptionsFilter(t *testing.T) {
	cat := &links.RemoteCatalog{Schemas: []string{"public"}, Schema: "public"}
	for i := range 30 {
		cat.Tables = append(cat.Tables, links.RemoteTable{Name: fmt.Sprintf("t%02d", i), Kind: "table"})
	}
	o := CreateOptions{Catalog: cat, TableFilter: "T1", Tables: []string{"t11", "t25", "forged<b>"}}
	var shown []string
	for _, t := range o.ShownTables() {
		shown = append(shown, t.Name)
	}
	if len(shown) != 10 || shown[0] != "t10" || shown[9] != "t19" {
		t.Errorf("shown = %q", shown)
	}
	if got := o.HiddenChosen(); !slices.Equal(got, []string{"t25"}) {
		t.Errorf("hidden chosen = %q", got)
	}
	if !o.Chosen("t11") || o.Chosen("t12") || o.SchemaOrPublic() != "public" {
		t.Error("choices misread")
	}
}
