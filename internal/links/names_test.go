package links

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"sales": true, "datalink_test": true, "a1": true, "1abc": true, "_x": true,
		strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false,
		"":                      false,
		"Sales":                 false,
		"sales-eu":              false,
		"sales eu":              false,
		`sales"; DROP`:          false,
		"public":                false,
		"information_schema":    false,
		"pg_catalog":            false,
		"pg_x":                  false,
		"über":                  false,
	} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestDefaultName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgresql-colorful-33594": "colorful_33594",
		"postgresql-round-06985":    "round_06985",
		"POSTGRES-Round-1":          "round_1",
		"heroku-postgresql-x":       "x",
		"analytics-db":              "analytics_db",
		"postgresql-":               "postgresql",
		"Weird Name!":               "weird_name",
		"pg-main":                   "link_pg_main",
		"---":                       "link_",
		strings.Repeat("x", 80):     strings.Repeat("x", 63),
	} {
		if got := DefaultName(in, "", nil); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", in, got, want)
		}
	}
	// A Heroku Connect schema names the link, whatever the resource name.
	if got := DefaultName("postgresql-round-06985", "salesforce", nil); got != "salesforce" {
		t.Errorf("Connect schema: %q, want salesforce", got)
	}
	if got := DefaultName("postgresql-round-06985", "Sales-Force", nil); got != "sales_force" {
		t.Errorf("Connect schema made valid: %q", got)
	}
	// Taken names get the first free suffix, within 63 characters.
	taken := map[string]bool{"salesforce": true, "salesforce_2": true, "colorful_33594": true}
	isTaken := func(n string) bool { return taken[n] }
	for _, c := range []struct{ resource, schema, want string }{
		{"postgresql-round-06985", "salesforce", "salesforce_3"},
		{"postgresql-colorful-33594", "", "colorful_33594_2"},
		{"postgresql-round-06985", "", "round_06985"},
	} {
		if got := DefaultName(c.resource, c.schema, isTaken); got != c.want {
			t.Errorf("DefaultName(%q, %q, taken) = %q, want %q", c.resource, c.schema, got, c.want)
		}
	}
	long := strings.Repeat("x", 63)
	if got := DefaultName(long, "", func(n string) bool { return n == long }); got != strings.Repeat("x", 61)+"_2" || ValidateName(got) != nil {
		t.Errorf("long name made unique: %q", got)
	}
}
