// Package fdwtest tests the pglinks_redis foreign data wrapper as installed
// (`make ext`) in a throwaway PostgreSQL cluster, against real redis-server
// processes started for the run: plain, TLS-only, and misbehaving peers in
// front of them.
package fdwtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pglinks/pglinks/internal/pgtest"
	"github.com/pglinks/pglinks/internal/redistest"
)

var (
	cluster *pgtest.Cluster
	plain   *redistest.Server // no password; tests FLUSHALL it first
	secure  *redistest.Server // TLS only, certificate signed by secure.CAFile
)

func TestMain(m *testing.M) {
	if err := checkInstalled(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	var err error
	if cluster, err = pgtest.Start(ctx, pgtest.Options{ForTests: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if plain, err = redistest.Start(ctx, redistest.Options{}); err == nil {
		secure, err = redistest.Start(ctx, redistest.Options{TLS: true})
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if plain != nil {
		plain.Stop()
	}
	if secure != nil {
		secure.Stop()
	}
	cluster.Stop()
	os.Exit(code)
}

// checkInstalled fails early, and says what to do, when the installed
// extension is not the one built from the sources here: the tests would
// otherwise test another build. Built means a library newer than every
// source file; installed means the same bytes in PostgreSQL's directories.
func checkInstalled() error {
	const fix = "run `make ext` at the repository root"
	bin, err := pgtest.BinDir()
	if err != nil {
		return err
	}
	dir := func(flag string) (string, error) {
		out, err := exec.Command(filepath.Join(bin, "pg_config"), flag).Output()
		if err != nil {
			return "", fmt.Errorf("fdwtest: pg_config %s: %v (the PostgreSQL server headers are missing: %s)", flag, err, fix)
		}
		return strings.TrimSpace(string(out)), nil
	}
	lib, err := dir("--pkglibdir")
	if err != nil {
		return err
	}
	share, err := dir("--sharedir")
	if err != nil {
		return err
	}
	built, err := os.Stat("../pglinks_redis.so")
	if err != nil {
		return fmt.Errorf("fdwtest: the wrapper is not built: %s", fix)
	}
	sources, _ := filepath.Glob("../src/*")
	for _, src := range append(sources, "../Makefile") {
		if s, err := os.Stat(src); err == nil && s.ModTime().After(built.ModTime()) {
			return fmt.Errorf("fdwtest: %s changed after the last build: %s", src, fix)
		}
	}
	for built, installed := range map[string]string{
		"../pglinks_redis.so":       filepath.Join(lib, "pglinks_redis.so"),
		"../pglinks_redis.control":  filepath.Join(share, "extension", "pglinks_redis.control"),
		"../pglinks_redis--1.0.sql": filepath.Join(share, "extension", "pglinks_redis--1.0.sql"),
	} {
		a, err1 := os.ReadFile(built)
		b, err2 := os.ReadFile(installed)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("fdwtest: %s is not installed as %s: %s", built, installed, fix)
		}
	}
	return nil
}

var dbSeq atomic.Int64

// newDB creates a database with the extension and returns a superuser
// connection to it, closed at the end of the test.
func newDB(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("fdw_%d", dbSeq.Add(1))
	if err := cluster.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	if err := cluster.Exec(ctx, name, "CREATE EXTENSION pglinks_redis"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, cluster.SuperURL(name))
	return conn, name
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(ctxT(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgError runs sql and returns the PostgreSQL error it must fail with.
func pgError(t *testing.T, conn *pgx.Conn, sql string, args ...any) *pgconn.PgError {
	t.Helper()
	_, err := conn.Exec(ctxT(t), sql, args...)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: want a PostgreSQL error, got %v", sql, err)
	}
	return pe
}

// rows runs a query and returns every value as fmt.Sprint text.
func rows(t *testing.T, conn *pgx.Conn, sql string, args ...any) [][]string {
	t.Helper()
	rs, err := conn.Query(ctxT(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rs.Close()
	var out [][]string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func one(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	r := rows(t, conn, sql, args...)
	if len(r) != 1 || len(r[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", sql, r)
	}
	return r[0][0]
}

func explain(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var lines []string
	for _, r := range rows(t, conn, "EXPLAIN "+sql, args...) {
		lines = append(lines, r[0])
	}
	return strings.Join(lines, "\n")
}

// redisDo runs a command on a server's admin connection or fails the test.
func redisDo(t *testing.T, s *redistest.Server, args ...any) any {
	t.Helper()
	v, err := s.Do(ctxT(t), args...)
	if err != nil {
		t.Fatalf("redis %v: %v", args, err)
	}
	return v
}

func flush(t *testing.T, s *redistest.Server) {
	t.Helper()
	redisDo(t, s, "FLUSHALL")
}

// createServer makes a foreign server name for s (plain or TLS) with opts
// ("key 'value', ..."), and a user mapping for the current user with
// mapping options (may be "").
func createServer(t *testing.T, conn *pgx.Conn, name string, s *redistest.Server, opts, mapping string) {
	t.Helper()
	o := fmt.Sprintf("host '127.0.0.1', port '%d'", s.Port)
	if opts != "" {
		o += ", " + opts
	}
	mustExec(t, conn, fmt.Sprintf("CREATE SERVER %s FOREIGN DATA WRAPPER pglinks_redis OPTIONS (%s)", name, o))
	m := ""
	if mapping != "" {
		m = " OPTIONS (" + mapping + ")"
	}
	mustExec(t, conn, fmt.Sprintf("CREATE USER MAPPING FOR CURRENT_USER SERVER %s%s", name, m))
}

// calls resets INFO commandstats, runs f, and returns the calls per command
// f caused (the INFO and CONFIG of the measurement itself left out).
func calls(t *testing.T, s *redistest.Server, f func()) map[string]int64 {
	t.Helper()
	redisDo(t, s, "CONFIG", "RESETSTAT")
	f()
	c, err := s.CommandCalls(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	delete(c, "info")
	for k := range c {
		if strings.HasPrefix(k, "config") {
			delete(c, k)
		}
	}
	return c
}

func backendPID(t *testing.T, conn *pgx.Conn) string {
	return one(t, conn, "SELECT pg_backend_pid()")
}
