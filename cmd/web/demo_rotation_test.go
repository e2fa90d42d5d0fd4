package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// readmeBlock returns the first ```sh block after heading in the README.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, heading)
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	if start < 0 {
		t.Fatalf("README: no sh block under %q", heading)
	}
	s = s[start+len("```sh\n"):]
	return s[:strings.Index(s, "```")]
}

// checkRotationWalkthrough runs README's "Try a password rotation" against
// a running demo, as written: only the demo's directory, the printed ports
// and a free port for the second dashboard are filled in. Step 1 rotates
// crm's password and the link's query fails; step 2 starts a second
// dashboard with the new URL, which shows the link stale and repairs it;
// then the query works again, and the demo's own dashboard, whose
// environment holds the old URL, neither calls the link stale nor repairs
// it.
func checkRotationWalkthrough(t *testing.T, out string) {
	t.Helper()
	block := readmeBlock(t, "### Try a password rotation")
	pgpass := regexp.MustCompile(`PGPASSFILE=(\S+)/pgpass psql`).FindStringSubmatch(out)
	orange := regexp.MustCompile(`# HEROKU_POSTGRESQL_ORANGE_URL \(.*\)\n  PGPASSFILE=\S+ psql -h \S+ -p (\d+) `).FindStringSubmatch(out)
	blue := regexp.MustCompile(`# HEROKU_POSTGRESQL_BLUE_URL \(.*\)\n  PGPASSFILE=\S+ psql -h \S+ -p (\d+) `).FindStringSubmatch(out)
	password := regexp.MustCompile(`Password +(\S+)`).FindStringSubmatch(out)
	if pgpass == nil || orange == nil || blue == nil || password == nil {
		t.Fatalf("the demo did not print its directory, ORANGE's and BLUE's ports or the password:\n%s", out)
	}
	port, err := pgtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer(
		"/tmp/pglinks-demo-NNN", pgpass[1],
		"ORANGE_PORT", orange[1],
		"BLUE_PORT", blue[1],
		"PORT=8081", "PORT="+strconv.Itoa(port),
	).Replace(block)
	lines := strings.Split(strings.TrimSpace(script), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, " serve") {
		t.Fatalf("the walkthrough's last line does not start a dashboard: %q", last)
	}
	// Everything but the last line, with each command's output marked, then
	// the dashboard in the foreground of the same shell.
	var steps []string
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.TrimSpace(l) == "" {
			continue
		}
		steps = append(steps, "echo '>>> "+strings.ReplaceAll(l, "'", "")+"'", l)
	}
	steps = append(steps, "echo '>>> serve'", last)
	cmd := exec.Command("bash", "-c", strings.Join(steps, "\n"))
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = withoutHostPort(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var output syncBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(3 * time.Minute) // go run may compile
	for {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("the second dashboard did not listen on 127.0.0.1:%d:\n%s", port, output.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	text := output.String()
	step := func(prefix string) string {
		i := strings.Index(text, ">>> "+prefix)
		if i < 0 {
			t.Fatalf("step %q did not run:\n%s", prefix, text)
		}
		rest := text[i:]
		_, rest, _ = strings.Cut(rest, "\n") // the step's own line
		if j := strings.Index(rest, ">>> "); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	if s := step("psql -h 127.0.0.1 -p " + orange[1]); strings.TrimSpace(s) != "ALTER ROLE" {
		t.Fatalf("step 1 (rotate) failed:\n%s", s)
	}
	if s := step("psql -h 127.0.0.1 -p " + blue[1]); !strings.Contains(s, "password authentication failed") {
		t.Fatalf("the link's query after the rotation did not fail on the password:\n%s", s)
	}
	if s := step("export HEROKU_POSTGRESQL_ORANGE_URL"); strings.TrimSpace(s) != "" {
		t.Fatalf("step 2 printed something:\n%s", s)
	}

	// The second dashboard, signed in as the demo's admin.
	do := signedIn(t, base, password[1])
	const linkPage = "/databases/HEROKU_POSTGRESQL_BLUE_URL/links/crm"
	if st, body := do("GET", linkPage, nil); st != http.StatusOK || !strings.Contains(body, "credentials changed (user or password)") {
		t.Fatalf("the link page on the second dashboard (%d) does not say the credentials changed:\n%s", st, body)
	}
	st, confirm := do("GET", linkPage+"/repair", nil)
	if st != http.StatusOK || !strings.Contains(confirm, "ALTER USER MAPPING") || strings.Contains(confirm, "rotated-Secret-42") {
		t.Fatalf("the repair confirmation (%d) lacks the masked SQL or shows the password:\n%s", st, confirm)
	}
	fp := regexp.MustCompile(`name="fingerprint" value="([0-9a-f]+)"`).FindStringSubmatch(confirm)
	if fp == nil {
		t.Fatalf("no fingerprint on the repair confirmation:\n%s", confirm)
	}
	if st, body := do("POST", linkPage+"/repair", url.Values{"fingerprint": {fp[1]}}); st != http.StatusSeeOther {
		t.Fatalf("repair: %d\n%s", st, body)
	}
	query := regexp.MustCompile(`psql -h 127\.0\.0\.1 -p \d+ -U analytics_owner analytics -c 'SELECT count\(\*\) FROM crm\.deals'`).FindString(script)
	linkWorks := func() {
		t.Helper()
		b, err := exec.Command("bash", "-c", "export PGPASSFILE="+pgpass[1]+"/pgpass; "+query+" -At").CombinedOutput()
		if err != nil || strings.TrimSpace(string(b)) == "" {
			t.Fatalf("the link's query after the repair: %v\n%s", err, b)
		}
	}
	linkWorks()

	// The demo's own dashboard still holds the old ORANGE URL: it must not
	// call the repaired link stale, nor offer to repair it, and a repair
	// asked for anyway is refused and writes nothing.
	first := regexp.MustCompile(`demo is running: (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(out)
	if first == nil {
		t.Fatalf("the demo printed no URL:\n%s", out)
	}
	old := signedIn(t, first[1], password[1])
	st, body := old("GET", linkPage, nil)
	if st != http.StatusOK || strings.Contains(body, `data-testid="repair"`) || strings.Contains(body, `data-testid="stale-badge"`) ||
		!strings.Contains(body, "restart it with the current config var") {
		t.Fatalf("the demo's own link page (%d) calls the repaired link stale or offers a repair:\n%s", st, body)
	}
	if st, body := old("POST", linkPage+"/repair", url.Values{}); st != http.StatusConflict {
		t.Fatalf("the demo's own repair of crm: %d\n%s", st, body)
	}
	linkWorks()
}

// signedIn signs in to the dashboard at base as the demo's admin and
// returns a request function that keeps the session and its CSRF token.
func signedIn(t *testing.T, base, password string) func(method, path string, form url.Values) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRe := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	var csrf string
	do := func(method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			form.Set("csrf", csrf)
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, base+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if m := csrfRe.FindStringSubmatch(string(b)); m != nil {
			csrf = m[1]
		}
		return resp.StatusCode, string(b)
	}
	do("GET", "/login", nil)
	if st, body := do("POST", "/login", url.Values{"email": {demoAdmin}, "password": {password}}); st != http.StatusSeeOther {
		t.Fatalf("sign-in on %s: %d\n%s", base, st, body)
	}
	return do
}

func withoutHostPort(environ []string) []string {
	var env []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "HOST=") && !strings.HasPrefix(kv, "PORT=") {
			env = append(env, kv)
		}
	}
	return env
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
