package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/auth"
	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/replication"
	"github.com/pglinks/pglinks/internal/state"
)

func TestConfigFromEnv(t *testing.T) {
	cfg, err := configFromEnv([]string{
		"PGLINKS_STATE_URL=postgres://u:p@h/db", "PORT=9000", "HOST=127.0.0.1",
		"PGLINKS_SESSION_KEYS=" + strings.Repeat("a", 64) + ", " + strings.Repeat("b", 64),
		"PGLINKS_TRUSTED_PROXIES=10.0.0.0/8, 192.168.1.7",
		"PGLINKS_IDLE_TIMEOUT=30m",
		"PGLINKS_MAX_CONNECTIONS= 64",
		"PGLINKS_LEASE_TTL=1m",
		"PGLINKS_SLOT_ORPHAN_AFTER=90s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || len(cfg.SessionKeys) != 2 || cfg.EphemeralKeys || len(cfg.TrustedProxies) != 2 || cfg.IdleTimeout != 30*time.Minute || cfg.AbsoluteTimeout != auth.DefaultAbsoluteTimeout || cfg.MaxConns != 64 || cfg.LeaseTTL != time.Minute || cfg.SlotOrphanAfter != 90*time.Second {
		t.Fatalf("cfg = %+v", cfg)
	}
	cfg, err = configFromEnv([]string{"PGLINKS_STATE_URL=postgres://u:p@h/db"})
	if err != nil || cfg.Addr != ":8080" || !cfg.EphemeralKeys || cfg.MaxConns != fleet.DefaultMaxConns || cfg.LeaseTTL != fleet.DefaultLeaseTTL || cfg.SlotOrphanAfter != replication.DefaultOrphanAfter {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for name, env := range map[string][]string{
		"no state":        {},
		"bad proxy":       {"PGLINKS_STATE_URL=x", "PGLINKS_TRUSTED_PROXIES=nope"},
		"every client":    {"PGLINKS_STATE_URL=x", "PGLINKS_TRUSTED_PROXIES=10.0.0.1, 0.0.0.0/0"},
		"every v6 client": {"PGLINKS_STATE_URL=x", "PGLINKS_TRUSTED_PROXIES=::/0"},
		"half TLS":        {"PGLINKS_STATE_URL=x", "PGLINKS_TLS_CERT=/c"},
		"short timeout":   {"PGLINKS_STATE_URL=x", "PGLINKS_ABSOLUTE_TIMEOUT=5s"},
		"cap too small":   {"PGLINKS_STATE_URL=x", "PGLINKS_MAX_CONNECTIONS=3"},
		"cap not whole":   {"PGLINKS_STATE_URL=x", "PGLINKS_MAX_CONNECTIONS=32.5"},
		"lease too short": {"PGLINKS_STATE_URL=x", "PGLINKS_LEASE_TTL=1s"},
		"lease not time":  {"PGLINKS_STATE_URL=x", "PGLINKS_LEASE_TTL=15"},
		"orphan after":    {"PGLINKS_STATE_URL=x", "PGLINKS_SLOT_ORPHAN_AFTER=5"},
		"orphan < 0":      {"PGLINKS_STATE_URL=x", "PGLINKS_SLOT_ORPHAN_AFTER=-1m"},
	} {
		if _, err := configFromEnv(env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestUserCommands(t *testing.T) {
	ctx := context.Background()
	c, err := pgtest.Start(ctx, pgtest.Options{ForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	db, err := c.CreateDatabase(ctx, "state", pgtest.DBOptions{NoFDW: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGLINKS_STATE_URL", db.URL)
	cli := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(stdin), &out, &out)
		return out.String(), err
	}

	out, err := cli("a typed password 123\n", "user", "add", "Alice@Example.com", "--role", "admin")
	if err != nil || !strings.Contains(out, "added alice@example.com (admin)") || strings.Contains(out, "password") {
		t.Fatalf("add with stdin password: %q, %v", out, err)
	}
	out, err = cli("", "user", "add", "bob@example.com", "--role=viewer")
	if err != nil || !strings.Contains(out, "password: ") {
		t.Fatalf("add with generated password: %q, %v", out, err)
	}
	generated := strings.TrimSpace(strings.SplitN(strings.SplitN(out, "password: ", 2)[1], "\n", 2)[0])
	sdb, err := state.Open(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	store := auth.NewStore(sdb)
	if _, err := store.Authenticate(ctx, "bob@example.com", generated); err != nil {
		t.Fatalf("the printed password does not work: %v", err)
	}
	if _, err := store.Authenticate(ctx, "alice@example.com", "a typed password 123"); err != nil {
		t.Fatalf("the stdin password does not work: %v", err)
	}

	if _, err := cli("", "user", "add", "carol@example.com", "--role", "root"); err == nil {
		t.Fatal("bad role accepted")
	}
	if _, err := cli("short\n", "user", "add", "carol@example.com"); err == nil {
		t.Fatal("short password accepted")
	}
	if out, err = cli("", "user", "set-role", "bob@example.com", "admin"); err != nil || !strings.Contains(out, "now admin") {
		t.Fatalf("set-role: %q %v", out, err)
	}
	if out, err = cli("", "user", "list"); err != nil || !strings.Contains(out, "alice@example.com  admin") || !strings.Contains(out, "bob@example.com    admin") {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err = cli("", "user", "remove", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err = cli("", "user", "remove", "alice@example.com"); err == nil {
		t.Fatal("removed the last admin")
	}
	entries, err := store.ListAudit(ctx, auth.AuditFilter{})
	if err != nil || len(entries) != 4 {
		t.Fatalf("audit: %d entries, %v", len(entries), err)
	}
	for _, e := range entries {
		if strings.Contains(e.Detail, generated) || strings.Contains(e.Detail, "a typed password") {
			t.Fatal("audit holds a password")
		}
	}
	if _, err := cli("", "nope"); err == nil {
		t.Fatal("unknown command accepted")
	}
	os.Unsetenv("PGLINKS_STATE_URL")
}
