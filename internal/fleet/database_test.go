package fleet

import (
	"strings"
	"testing"
)

func TestLoadFleet(t *testing.T) {
	env := []string{
		"HEROKU_POSTGRESQL_ORANGE_URL=postgres://u2:pw2@db.example.com/orange",
		"DATABASE_URL=postgres://u1:s3cret@127.0.0.1:5433/main?sslmode=disable",
		"HEROKU_POSTGRESQL_BLUE_URL=postgresql://u3:pw3@10.0.0.5:6543/blue?sslmode=verify-full",
		"ANALYTICS_DB=postgres://u4:pw4@localhost/analytics",
		"PGLINKS_DATABASES=ANALYTICS_DB",
		"PGLINKS_RESOURCE_NAMES=DATABASE_URL=postgresql-animate-91581",
		"HEROKU_POSTGRESQL__URL=ignored",
		"OTHER_URL=postgres://not/in/fleet",
	}
	f, err := Load(env)
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, d := range f.Databases {
		vars = append(vars, d.ConfigVar)
	}
	if got := strings.Join(vars, ","); got != "DATABASE_URL,HEROKU_POSTGRESQL_BLUE_URL,HEROKU_POSTGRESQL_ORANGE_URL,ANALYTICS_DB" {
		t.Fatalf("fleet order = %s", got)
	}
	main, _ := f.Get("DATABASE_URL")
	if main.ResourceName != "postgresql-animate-91581" || main.Host != "127.0.0.1" || main.Port != "5433" || main.DBName != "main" || main.User != "u1" || main.SSLMode != "disable" {
		t.Errorf("DATABASE_URL = %+v", main)
	}
	if got := main.MaskedURL(); got != "postgres://u1:***@127.0.0.1:5433/main?sslmode=disable" {
		t.Errorf("masked = %s", got)
	}
	orange, _ := f.Get("HEROKU_POSTGRESQL_ORANGE_URL")
	if orange.SSLMode != "require" || orange.Port != "5432" {
		t.Errorf("non-loopback host without sslmode: %+v", orange)
	}
	if !strings.Contains(orange.ConnString(), "sslmode=require") {
		t.Errorf("conn string %s lacks sslmode=require", MaskURLs(orange.ConnString()))
	}
	blue, _ := f.Get("HEROKU_POSTGRESQL_BLUE_URL")
	if blue.SSLMode != "verify-full" {
		t.Errorf("explicit sslmode lost: %+v", blue)
	}
	if !strings.HasPrefix(blue.ResourceName, "postgresql-") {
		t.Errorf("default resource name = %q", blue.ResourceName)
	}
	again, _ := Load(env)
	if b2, _ := again.Get("HEROKU_POSTGRESQL_BLUE_URL"); b2.ResourceName != blue.ResourceName {
		t.Error("default resource name is not stable")
	}
	local, _ := f.Get("ANALYTICS_DB")
	if local.SSLMode != "" {
		t.Errorf("loopback host got sslmode %q", local.SSLMode)
	}
}

func TestLoadFleetErrors(t *testing.T) {
	for name, env := range map[string][]string{
		"unset var":      {"PGLINKS_DATABASES=MISSING_URL"},
		"bad var name":   {"PGLINKS_DATABASES=bad-name", "bad-name=x"},
		"bad names pair": {"PGLINKS_RESOURCE_NAMES=novalue"},
	} {
		if _, err := Load(env); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f, err := Load([]string{"DATABASE_URL=mysql://u:topsecret@h/db", "HEROKU_POSTGRESQL_RED_URL=::not a url topsecret",
		"HEROKU_POSTGRESQL_BLUE_URL=postgres://u:top secret@h/db"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Databases {
		if d.ConfigErr == nil {
			t.Errorf("%s: no config error", d.ConfigVar)
		} else if strings.Contains(d.ConfigErr.Error(), "topsecret") || strings.Contains(d.MaskedURL(), "topsecret") ||
			strings.Contains(d.ConfigErr.Error(), "top") || strings.Contains(d.MaskedURL(), "top") {
			t.Errorf("%s: config error leaks the password", d.ConfigVar)
		}
	}
}
