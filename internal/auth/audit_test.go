package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		s, clk := mustOpen(t)
		e := AuditEntry{
			Actor: "ada@example.com", Action: ActionLinkCreate, Target: "DATABASE_URL/analytics",
			Outcome: OutcomeOK, Detail: "12 tables imported", DDL: `CREATE SCHEMA "analytics"`, RemoteAddr: "192.0.2.1",
		}
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListAudit(ctx, AuditFilter{})
		if err != nil || len(got) != 1 {
			t.Fatalf("got %+v, %v", got, err)
		}
		e.ID, e.At = got[0].ID, clk.Now()
		if got[0].ID == 0 || !got[0].At.Equal(e.At) {
			t.Fatalf("id %d at %v", got[0].ID, got[0].At)
		}
		got[0].At = e.At
		if got[0] != e {
			t.Fatalf("got %+v\nwant %+v", got[0], e)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		s, _ := mustOpen(t)
		for _, e := range []AuditEntry{
			{Action: "", Outcome: OutcomeOK},
			{Action: ActionLogin, Outcome: ""},
			{Action: ActionLogin, Outcome: "maybe"},
		} {
			if err := s.Record(ctx, e); err == nil {
				t.Errorf("Record(%+v) accepted", e)
			}
		}
	})

	t.Run("NoPasswordStored", func(t *testing.T) {
		s, _ := mustOpen(t)
		secrets := []string{"hunter2-ddl", "it''s-quoted", "e-string-pw", "url-pw-1", "url-pw-2", "conn-pw"}
		e := AuditEntry{
			Actor:  "ada@example.com",
			Action: ActionLinkCreate, Target: "postgres://bob:url-pw-1@remote.example.com/app", Outcome: OutcomeFailed,
			Detail: "could not connect to postgresql://bob:url-pw-2@remote.example.com:5432/app?sslmode=require",
			DDL: `CREATE SERVER "analytics" FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'remote', dbname 'app');
CREATE USER MAPPING FOR CURRENT_USER SERVER "analytics" OPTIONS (user 'bob', password 'hunter2-ddl');
ALTER USER MAPPING FOR CURRENT_USER SERVER "analytics" OPTIONS (SET password 'it''s-quoted');
ALTER USER MAPPING FOR CURRENT_USER SERVER "analytics" OPTIONS (SET password E'e-string-pw');
ALTER SUBSCRIPTION sub CONNECTION 'host=remote password=conn-pw dbname=app';`,
			RemoteAddr: "192.0.2.1",
		}
		if err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		var row string
		if err := s.Pool().QueryRow(ctx, "SELECT a::text FROM pglinks.audit a").Scan(&row); err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if strings.Contains(row, strings.ReplaceAll(secret, "''", "'")) || strings.Contains(row, secret) {
				t.Errorf("%q stored in %s", secret, row)
			}
		}
		for _, kept := range []string{"remote.example.com", `password '***'`, "password=***", "bob:***@"} {
			if !strings.Contains(row, kept) {
				t.Errorf("%q missing from %s", kept, row)
			}
		}
	})
}

func TestListAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clk := mustOpen(t)
	targets := []string{
		"DATABASE_URL/analytics", "HEROKU_POSTGRESQL_BLUE_URL/Analytics_v2", "DATABASE_URL/billing",
		"50%_off", "500_off", `back\slash`, "bob@example.com",
	}
	for i, target := range targets {
		action := ActionLinkCreate
		if i%2 == 1 {
			action = ActionLinkDestroy
		}
		if err := s.Record(ctx, AuditEntry{Actor: "ada@example.com", Action: action, Target: target, Outcome: OutcomeOK}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}

	targetsOf := func(es []AuditEntry) string {
		var ts []string
		for _, e := range es {
			ts = append(ts, e.Target)
		}
		return strings.Join(ts, ",")
	}

	t.Run("NewestFirst", func(t *testing.T) {
		got, err := s.ListAudit(ctx, AuditFilter{})
		if err != nil || len(got) != len(targets) {
			t.Fatalf("got %d entries, %v", len(got), err)
		}
		for i := 1; i < len(got); i++ {
			if got[i].ID >= got[i-1].ID || got[i].At.After(got[i-1].At) {
				t.Fatalf("not newest first: %s", targetsOf(got))
			}
		}
		if got[0].Target != "bob@example.com" {
			t.Fatalf("newest is %q", got[0].Target)
		}
	})

	t.Run("FilterTarget", func(t *testing.T) {
		tests := []struct{ filter, want string }{
			{"analytics", "HEROKU_POSTGRESQL_BLUE_URL/Analytics_v2,DATABASE_URL/analytics"},
			{"ANALYTICS_", "HEROKU_POSTGRESQL_BLUE_URL/Analytics_v2"},
			{"%", "50%_off"},
			{"0_", "500_off"},
			{`\`, `back\slash`},
			{"  billing ", "DATABASE_URL/billing"},
			{`"database_url/analytics"`, "DATABASE_URL/analytics"},
			{`"DATABASE_URL/analytic"`, ""},
			{`"50%_off"`, "50%_off"},
			{`"5%"`, ""},
			{`""`, ""},
			{"'; DROP TABLE pglinks.audit; --", ""},
			{"nothing", ""},
		}
		for _, tt := range tests {
			got, err := s.ListAudit(ctx, AuditFilter{Target: tt.filter})
			if err != nil {
				t.Fatal(err)
			}
			if targetsOf(got) != tt.want {
				t.Errorf("target %q: got %q, want %q", tt.filter, targetsOf(got), tt.want)
			}
		}
	})

	t.Run("FilterAction", func(t *testing.T) {
		got, err := s.ListAudit(ctx, AuditFilter{Action: ActionLinkDestroy})
		if err != nil {
			t.Fatal(err)
		}
		if want := `back\slash,50%_off,HEROKU_POSTGRESQL_BLUE_URL/Analytics_v2`; targetsOf(got) != want {
			t.Fatalf("got %q, want %q", targetsOf(got), want)
		}
		got, _ = s.ListAudit(ctx, AuditFilter{Action: ActionLinkDestroy, Target: "analytics"})
		if targetsOf(got) != "HEROKU_POSTGRESQL_BLUE_URL/Analytics_v2" {
			t.Fatalf("combined filter: %q", targetsOf(got))
		}
	})

	t.Run("Paging", func(t *testing.T) {
		var all []string
		before := int64(0)
		for page := 0; ; page++ {
			got, err := s.ListAudit(ctx, AuditFilter{Limit: 3, BeforeID: before})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 3 {
				t.Fatalf("page of %d", len(got))
			}
			if len(got) == 0 {
				break
			}
			all = append(all, targetsOf(got))
			before = got[len(got)-1].ID
		}
		full, _ := s.ListAudit(ctx, AuditFilter{})
		if strings.Join(all, ",") != targetsOf(full) {
			t.Fatalf("pages %q, all %q", all, targetsOf(full))
		}
	})

	t.Run("Limit", func(t *testing.T) {
		s2, _ := mustOpen(t)
		for i := range DefaultAuditLimit + 5 {
			if err := s2.Record(ctx, AuditEntry{Action: ActionLogin, Target: fmt.Sprint(i), Outcome: OutcomeOK}); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s2.ListAudit(ctx, AuditFilter{})
		if len(got) != DefaultAuditLimit {
			t.Fatalf("default limit gave %d", len(got))
		}
		got, _ = s2.ListAudit(ctx, AuditFilter{Limit: MaxAuditLimit * 10})
		if len(got) != DefaultAuditLimit+5 {
			t.Fatalf("large limit gave %d", len(got))
		}
	})
}
