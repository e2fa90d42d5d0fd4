package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/demo"
	"github.com/pglinks/pglinks/internal/pgtest"
)

// TestDemoAsPrinted runs `web demo` as a person would: the printed URL is
// on 127.0.0.1, the printed psql and user-add commands work verbatim in a
// shell, the ready-made link is in the audit trail, README's claims about
// the fleet and its rotation walkthrough hold as written, requests do not
// fill the terminal (they are logged at debug level), kill -USR1 prints
// the summary again, and Ctrl-C (SIGINT) ends it with exit status 0 and its
// files removed.
func TestDemoAsPrinted(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts two clusters")
	}
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	bin := webBinary(t)
	cmd := exec.Command(bin, "demo")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOST=") && !strings.HasPrefix(kv, "PORT=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "PORT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	var printed strings.Builder
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(3*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "Press Ctrl-C") {
			break
		}
	}
	out := printed.String()
	for _, want := range []string{"demo: starting PostgreSQL cluster 1 of 2", "demo: creating and seeding shop", "demo: creating the link crm", "demo: starting a TLS redis-server", "demo: linking the Redis (REDIS_URL) into shop as hredis"} {
		if !strings.Contains(out, want) {
			t.Errorf("no progress line %q in:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`demo is running: http://127\.0\.0\.1:\d+\n`).MatchString(out) {
		t.Fatalf("demo not on 127.0.0.1:\n%s", out)
	}
	if strings.Contains(out, "psql ...") || strings.Contains(out, "export PGPASSFILE") {
		t.Errorf("incomplete psql command printed:\n%s", out)
	}

	sh := func(line string) string {
		t.Helper()
		c := exec.Command("sh", "-c", line)
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("printed command failed: %s\n%v\n%s", line, err, b)
		}
		return string(b)
	}
	query := regexp.MustCompile(`(?m)^  (PGPASSFILE=\S+ psql .* -c 'SELECT stage.*')$`).FindStringSubmatch(out)
	if query == nil {
		t.Fatalf("no psql query line:\n%s", out)
	}
	if got := sh(query[1]); !strings.Contains(got, "qualified") {
		t.Errorf("psql through the link: %s", got)
	}
	checkRedisJoinAsPrinted(t, out, sh)
	addViewer := regexp.MustCompile(`(?m)^  (\(\. \S+ && .* user add viewer@pglinks\.local --role viewer </dev/null\))$`).FindStringSubmatch(out)
	if addViewer == nil {
		t.Fatalf("no user add line:\n%s", out)
	}
	if got := sh(addViewer[1]); !strings.Contains(got, "added viewer@pglinks.local (viewer)") || !strings.Contains(got, "password: ") {
		t.Errorf("user add: %s", got)
	}
	envFile := regexp.MustCompile(`\(\. (\S+) &&`).FindStringSubmatch(addViewer[1])[1]
	envText, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(envFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", fi.Mode().Perm())
	}
	stateURL := strings.Trim(strings.TrimPrefix(strings.TrimSpace(string(envText)), "export PGLINKS_STATE_URL="), "'")
	if strings.Contains(out, stateURL) {
		t.Error("the state URL (with its password) was printed")
	}
	if n := pgtest.MustQueryInt(t, stateURL, `SELECT count(*) FROM pglinks.audit WHERE action = 'link_create' AND target = 'HEROKU_POSTGRESQL_BLUE_URL/crm' AND actor = 'demo' AND ddl LIKE '%IMPORT FOREIGN SCHEMA%'`); n != 1 {
		t.Errorf("audit rows for the demo link: %d, want 1", n)
	}
	// The link crm's page has something to fix: a saved check whose
	// similarity() condition stays local until pg_trgm is listed.
	if n := pgtest.MustQueryInt(t, stateURL, `SELECT count(*) FROM pglinks.query_checks WHERE link = 'crm' AND actor = 'demo' AND kept_local > 0 AND findings::text LIKE '%"Code": "extension"%pg_trgm%'`); n != 1 {
		t.Errorf("saved query checks of crm with the pg_trgm fix: %d, want 1", n)
	}
	checkDemoCLI(t, out, sh)
	checkDemoFleetPages(t, out, stateURL)
	checkRotationWalkthrough(t, out)
	// The pages above were served, and none of them logged at INFO.
	if logs := stderr.String(); strings.Contains(logs, "msg=request") {
		t.Errorf("the demo logs requests in its terminal:\n%s", logs)
	}

	// kill -USR1, as the summary says, prints it again.
	if want := "kill -USR1 " + strconv.Itoa(cmd.Process.Pid) + " prints it again"; !strings.Contains(out, want) {
		t.Errorf("the summary does not say %q:\n%s", want, out)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var again strings.Builder
	for lines.Scan() {
		again.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "Press Ctrl-C") {
			break
		}
	}
	password := regexp.MustCompile(`Password +(\S+)`).FindStringSubmatch(out)[1]
	if s := again.String(); !strings.Contains(s, "pglinks demo is running: http://127.0.0.1:") || !strings.Contains(s, "Password    "+password) || !strings.Contains(s, "user add viewer@pglinks.local") {
		t.Errorf("after SIGUSR1 the demo printed:\n%s", s)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo after SIGINT: %v, want exit status 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop 30s after SIGINT")
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("demo files left behind: %v", err)
	}
}

// checkDemoCLI runs the printed `web links` line: it lists the demo's
// links as Heroku's pg:links does, with a token the demo keeps in a
// private file and never prints.
func checkDemoCLI(t *testing.T, out string, sh func(string) string) {
	t.Helper()
	line := regexp.MustCompile(`(?m)^  (PGLINKS_URL=http://127\.0\.0\.1:\d+ PGLINKS_TOKEN_FILE=(\S+) .* links)$`).FindStringSubmatch(out)
	if line == nil {
		t.Fatalf("no web links line:\n%s", out)
	}
	if fi, err := os.Stat(line[2]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v", line[2], err)
	}
	if strings.Contains(out, "pgl_") {
		t.Error("the demo printed an API token")
	}
	got := sh(line[1])
	for _, want := range []string{
		"=== HEROKU_POSTGRESQL_BLUE_URL (postgresql-colorful-33594)\n\n*  crm\n",
		"\nremote:      HEROKU_POSTGRESQL_ORANGE_URL (postgresql-round-06985)\nremote_name: crm\n",
		"=== DATABASE_URL (postgresql-animate-91581)\n\n*  hredis\n",
		"\nremote:      REDIS_URL (",
		"No data sources are linked into this database.\n",
		"=== HEROKU_POSTGRESQL_GRAY_URL (postgresql-silent-27114)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("web links lacks %q:\n%s", want, got)
		}
	}
}

// A port in use is found before anything is seeded, and the message
// names a free one to use instead.
func TestDemoBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	t.Setenv("HOST", "127.0.0.1")
	t.Setenv("PORT", port)
	t.Setenv("PGLINKS_DEMO_PG", "")
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = runDemo(ctx, &out)
	m := regexp.MustCompile(`^port ` + port + ` is in use; run PORT=(\d+) make demo$`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("runDemo on a busy port: %v, want \"port %s is in use; run PORT=N make demo\"", err, port)
	}
	if strings.Contains(out.String(), "starting") {
		t.Errorf("the demo started seeding before finding the port busy:\n%s", out.String())
	}
	free, err := net.Listen("tcp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatalf("the suggested port %s is not free: %v", m[1], err)
	}
	free.Close()
	busyN, _ := strconv.Atoi(port)
	if suggested, _ := strconv.Atoi(m[1]); suggested <= busyN {
		t.Errorf("suggested port %s for busy port %s: want one above it", m[1], port)
	}
}

// lockedBuffer collects a process's output written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestDemoMajor(t *testing.T) {
	for v, want := range map[string]int{"": 0, "18": 18, "14": 14, "13": 13} {
		if got, err := demoMajor(v); err != nil || got != want {
			t.Errorf("demoMajor(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"eighteen", "18.4", "9", "-1", " 18", "180"} {
		if _, err := demoMajor(v); err == nil || !strings.Contains(err.Error(), "PGLINKS_DEMO_PG") || !strings.Contains(err.Error(), "14 to 18") {
			t.Errorf("demoMajor(%q): err = %v, want one naming the variable and the supported range", v, err)
		}
	}
}

// checkRedisJoinAsPrinted runs the printed psql line that runs seed 004's
// join verbatim through the demo's TLS Redis link, and checks its rows:
// every widget, each with its counter from Redis, highest first.
func checkRedisJoinAsPrinted(t *testing.T, out string, sh func(string) string) {
	t.Helper()
	line := regexp.MustCompile(`(?m)^  (PGPASSFILE=\S+ psql .* shop_owner shop -c .*)$`).FindStringSubmatch(out)
	if line == nil || !strings.Contains(line[1], shellQuote(demo.SeedJoin)) {
		t.Fatalf("no psql line running seed 004's join verbatim:\n%s", out)
	}
	got := sh(line[1])
	if !strings.Contains(got, "my_counter") || !strings.Contains(got, fmt.Sprintf("(%d rows)", demo.Widgets)) {
		t.Fatalf("the seed's join as printed:\n%s", got)
	}
	best, bestN := 0, 0
	for n := 1; n <= demo.Widgets; n++ {
		if c := demo.WidgetCounter(n); c > best {
			best, bestN = c, n
		}
	}
	first := regexp.MustCompile(`(?m)^\s*(\d+) \| Widget \d+ +\| +\d+ \| (\d+)$`).FindStringSubmatch(got)
	if first == nil || first[1] != strconv.Itoa(bestN) || first[2] != strconv.Itoa(best) {
		t.Errorf("first row %q, want widget %d with %d:\n%s", first, bestN, best, got)
	}
}
