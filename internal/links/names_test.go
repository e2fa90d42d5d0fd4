package links

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
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
		if got := DefaultName(in); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", in, got, want)
		}
	}
}
