package links

import (
	"testing"

	"github.com/pglinks/pglinks/internal/fleet"
)

func TestSuggestName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Shop-Orders":   "shop_orders",
		"Sales Data":    "sales_data",
		"  my--link!! ": "my_link",
		"pg_stats":      "link_pg_stats",
		"PUBLIC":        "link_public",
		"shop_orders":   "", // already valid: nothing to suggest
		"¡¿!":           "",
		"Ünïcode Name":  "n_code_name",
	} {
		if got := SuggestName(in); got != want {
			t.Errorf("SuggestName(%q) = %q, want %q", in, got, want)
		}
		if got := SuggestName(in); got != "" {
			if err := ValidateName(got); err != nil {
				t.Errorf("SuggestName(%q) = %q is not valid: %v", in, got, err)
			}
		}
	}
	long := ""
	for range 100 {
		long += "Ab-"
	}
	if got := SuggestName(long); len(got) > fleet.MaxIdentLen || ValidateName(got) != nil {
		t.Errorf("SuggestName(long) = %q (%d)", got, len(got))
	}
}
