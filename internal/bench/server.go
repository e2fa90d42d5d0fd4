package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	"syscall"
	"time"

	"github.com/pglinks/pglinks/internal/pgtest"
)

// server is one running `web serve` subprocess and a signed-in client.
type server struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	base    string
	logPath string
	client  *http.Client
	csrf    string
}

const (
	adminEmail = "bench@pglinks.invalid"
	reqTimeout = 30 * time.Second
)

// buildServer compiles cmd/web once into dir.
func buildServer(ctx context.Context, moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "web")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/web")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/web: %w: %s", err, out)
	}
	return bin, nil
}

// moduleRoot finds the directory of go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/pglinks/pglinks")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the pglinks module (go.mod not found)")
		}
		dir = parent
	}
}

// addUser runs `web user add` with the password on stdin.
func addUser(ctx context.Context, bin, stateURL, password string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "user", "add", adminEmail, "--role", "admin")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "PGLINKS_STATE_URL=" + stateURL}
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("web user add: %w: %s", err, out)
	}
	return nil
}

// startServer runs `web serve` with env (fleet vars and settings) on a
// free loopback port, waits for /healthz and signs in.
func startServer(ctx context.Context, bin, dir, name string, env []string, password string) (*server, error) {
	port, err := pgtest.FreePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "server-"+name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOST=127.0.0.1", "PORT=" + strconv.Itoa(port)}, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with the harness, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start web serve: %w", err)
	}
	s := &server{cmd: cmd, exited: make(chan struct{}), base: "http://127.0.0.1:" + strconv.Itoa(port), logPath: logPath}
	go func() { cmd.Wait(); close(s.exited) }()
	jar, _ := cookiejar.New(nil)
	s.client = &http.Client{
		Jar:     jar,
		Timeout: reqTimeout,
		Transport: &http.Transport{
			// Answers uncompressed, as curl gives them: inflating the
			// inventory's gzip in this process, on the same two cores,
			// would be timed as the server's (gzipSize reports what
			// compression saves).
			DisableCompression:  true,
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _, err := s.get(ctx, "/healthz")
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("web serve exited at start (log: %s):\n%s", logPath, tailFile(logPath, 3000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("web serve not healthy after 60s (log: %s): %v", logPath, err)
		}
	}
	if err := s.signIn(ctx, password); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// stop ends the server: SIGTERM, then SIGKILL after 10 s.
func (s *server) stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// gzipSize is the size of path's answer to a client that accepts gzip,
// as sent (0 when it could not be had).
func (s *server) gzipSize(ctx context.Context, path string) int {
	ctx, cancel := context.WithTimeout(ctx, reqTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return len(b)
}

// getGzip fetches path as a browser does (Accept-Encoding: gzip) and
// reads the whole body as sent.
func (s *server) getGzip(ctx context.Context, path string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, reqTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// get fetches path and reads the whole body.
func (s *server) get(ctx context.Context, path string) (int, []byte, error) {
	return s.do(ctx, http.MethodGet, path, nil, reqTimeout)
}

func (s *server) do(ctx context.Context, method, path string, form url.Values, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode/100 == 3 {
		b = []byte(loc)
	}
	return resp.StatusCode, b, err
}

var (
	csrfRe        = regexp.MustCompile(`name="csrf"\s+value="([^"]*)"`)
	fingerprintRe = regexp.MustCompile(`name="fingerprint"\s+value="([^"]*)"`)
)

func hiddenField(re *regexp.Regexp, page []byte) string {
	m := re.FindSubmatch(page)
	if m == nil {
		return ""
	}
	return htmlUnescape(string(m[1]))
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(s)
}

// signIn goes through the login form: GET /login for the CSRF field, POST.
func (s *server) signIn(ctx context.Context, password string) error {
	code, page, err := s.get(ctx, "/login")
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET /login: %d %v", code, err)
	}
	form := url.Values{"email": {adminEmail}, "password": {password}, "next": {"/account"}}
	if tok := hiddenField(csrfRe, page); tok != "" {
		form.Set("csrf", tok)
	}
	code, body, err := s.do(ctx, http.MethodPost, "/login", form, reqTimeout)
	if err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("POST /login: status %d (want 303) %v: %.300s", code, err, body)
	}
	code, page, err = s.get(ctx, "/account")
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET /account after sign-in: %d %v", code, err)
	}
	s.csrf = hiddenField(csrfRe, page)
	if s.csrf == "" {
		return errors.New("no CSRF token on /account after sign-in")
	}
	return nil
}

// createLink posts the create form; it returns the 303's Location.
func (s *server) createLink(ctx context.Context, local, remote, schema, name string) (string, error) {
	// duplicate_ok: several links may read the same remote into one local.
	form := url.Values{"csrf": {s.csrf}, "remote": {remote}, "local": {local}, "name": {name}, "op": {"create"}, "duplicate_ok": {"1"}}
	if schema != "" {
		form.Set("remote_schema", schema)
	}
	code, body, err := s.do(ctx, http.MethodPost, "/links", form, 3*time.Minute)
	if err != nil {
		return "", fmt.Errorf("create link %s/%s: %w", local, name, err)
	}
	if code != http.StatusSeeOther {
		return "", fmt.Errorf("create link %s/%s: status %d, want 303: %s", local, name, code, formError(body))
	}
	return string(body), nil
}

var alertRe = regexp.MustCompile(`(?s)<(?:div|p)[^>]*(?:alert-error|text-red)[^>]*>(.*?)</(?:div|p)>`)

func formError(page []byte) string {
	var out []string
	for _, m := range alertRe.FindAllSubmatch(page, 5) {
		out = append(out, strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(string(m[1]), "")))
	}
	if len(out) == 0 {
		if len(page) > 300 {
			page = page[:300]
		}
		return string(page)
	}
	return strings.Join(out, " | ")
}

// destroyLink goes through the destroy confirmation form.
func (s *server) destroyLink(ctx context.Context, local, name string) error {
	path := "/databases/" + url.PathEscape(local) + "/links/" + url.PathEscape(name) + "/destroy"
	code, page, err := s.get(ctx, path)
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %v", path, code, err)
	}
	form := url.Values{"csrf": {s.csrf}, "confirm": {name}, "fingerprint": {hiddenField(fingerprintRe, page)}}
	code, body, err := s.do(ctx, http.MethodPost, path, form, 2*time.Minute)
	if err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("POST %s: status %d %v: %s", path, code, err, formError(body))
	}
	return nil
}
