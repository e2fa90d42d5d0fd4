// Package e2e drives the real pglinks binary with Debian's chromium through
// playwright-go. This file is the harness shared by the browser tests:
//
//   - TestMain starts the playwright driver and chromium once per test binary;
//   - newPage gives each test a fresh browser context and page;
//   - buildBinary and startServer build and run `web serve` on a port the kernel picks;
//   - screenshot saves full-page PNGs under e2e/screenshots (git-ignored).
//
// Nothing is ever downloaded: the driver is playwright-core from npm, unpacked
// by `scripts/deps.sh test` into .cache/playwright-driver, and the browser is
// the Debian package. Without them the tests are skipped, except when
// CI=true, where that is a failure.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

// chromiumArgs keep Debian's chromium quiet and offline in containers.
var chromiumArgs = []string{
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
}

var (
	pw      *playwright.Playwright
	browser playwright.Browser

	// expect asserts on locators and pages, retrying until the timeout (ms).
	expect = playwright.NewPlaywrightAssertions(5000)

	repoRoot       string // directory holding go.mod
	screenshotsDir string // e2e/screenshots
	binDir         string // temporary directory for the built binary, removed after the run
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	if repoRoot, err = findRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	screenshotsDir = filepath.Join(repoRoot, "e2e", "screenshots")

	if err := startBrowser(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: %v\n(CI=true: browser tests must run; `make deps-test` installs what they need)\n", err)
			return 1
		}
		fmt.Printf("e2e: skipped: %v\n(run `make deps-test` to install what the browser tests need)\n", err)
		return 0
	}
	defer func() {
		if err := browser.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: closing chromium:", err)
		}
		if err := pw.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: stopping the playwright driver:", err)
		}
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	}()
	defer runAtExit()
	return m.Run()
}

var (
	atExitMu  sync.Mutex
	atExitFns []func()
)

// atExit registers f to run after every test, last registered first: for
// fixtures shared by the whole package, such as PostgreSQL clusters.
func atExit(f func()) {
	atExitMu.Lock()
	defer atExitMu.Unlock()
	atExitFns = append(atExitFns, f)
}

func runAtExit() {
	atExitMu.Lock()
	defer atExitMu.Unlock()
	for i := len(atExitFns) - 1; i >= 0; i-- {
		atExitFns[i]()
	}
}

// startBrowser starts the playwright driver and launches chromium, after
// checking that both exist so a missing one gets a clear message.
func startBrowser() error {
	driverDir := os.Getenv("PLAYWRIGHT_DRIVER_PATH")
	if driverDir == "" {
		driverDir = filepath.Join(repoRoot, ".cache", "playwright-driver")
	}
	if _, err := os.Stat(filepath.Join(driverDir, "package", "cli.js")); err != nil {
		return fmt.Errorf("playwright driver not found in %s", driverDir)
	}
	// playwright-go runs $PLAYWRIGHT_NODEJS_PATH, else <driver>/node.
	if os.Getenv("PLAYWRIGHT_NODEJS_PATH") == "" && !isExecutable(filepath.Join(driverDir, "node")) {
		os.Setenv("PLAYWRIGHT_NODEJS_PATH", "/usr/bin/node")
	}
	if node := os.Getenv("PLAYWRIGHT_NODEJS_PATH"); node != "" && !isExecutable(node) {
		return fmt.Errorf("node not found at PLAYWRIGHT_NODEJS_PATH=%s", node)
	}

	chromium := ""
	// /usr/lib/chromium/chromium skips the /usr/bin wrapper script (and its
	// harmless warnings).
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if isExecutable(p) {
			chromium = p
			break
		}
	}
	if chromium == "" {
		return errors.New("chromium not found (Debian package \"chromium\")")
	}

	start := time.Now()
	var err error
	pw, err = playwright.Run(&playwright.RunOptions{
		DriverDirectory:     driverDir,
		SkipInstallBrowsers: true,
		Verbose:             false,
	})
	if err != nil {
		return fmt.Errorf("starting the playwright driver in %s: %w", driverDir, err)
	}
	driverTime := time.Since(start)

	start = time.Now()
	browser, err = pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath: playwright.String(chromium),
		Headless:       playwright.Bool(true),
		Args:           chromiumArgs,
	})
	if err != nil {
		pw.Stop()
		return fmt.Errorf("launching %s: %w", chromium, err)
	}
	fmt.Printf("e2e: playwright driver started in %v; chromium %s (%s) launched in %v\n",
		driverTime.Round(time.Millisecond), browser.Version(), chromium, time.Since(start).Round(time.Millisecond))
	return nil
}

// newPage opens a fresh browser context (no shared cookies or storage) and
// page for one test. When the test fails, a screenshot is saved as
// <TestName>-failure.png and the page's console errors are logged.
func newPage(t *testing.T) playwright.Page {
	t.Helper()
	bctx, err := browser.NewContext(playwright.BrowserNewContextOptions{
		Viewport: &playwright.Size{Width: 1280, Height: 900},
	})
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	bctx.SetDefaultTimeout(10_000)
	page, err := bctx.NewPage()
	if err != nil {
		bctx.Close()
		t.Fatalf("new page: %v", err)
	}

	var mu sync.Mutex
	var console []string
	page.OnConsole(func(msg playwright.ConsoleMessage) {
		if msg.Type() == "error" || msg.Type() == "warning" {
			mu.Lock()
			console = append(console, msg.Type()+": "+msg.Text())
			mu.Unlock()
		}
	})
	page.OnPageError(func(err error) {
		mu.Lock()
		console = append(console, "page error: "+err.Error())
		mu.Unlock()
	})

	t.Cleanup(func() {
		if t.Failed() {
			name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-failure"
			if path, err := saveScreenshot(page, name); err != nil {
				t.Logf("failure screenshot: %v", err)
			} else {
				t.Logf("failure screenshot: %s (page %s)", path, page.URL())
			}
			mu.Lock()
			for _, line := range console {
				t.Logf("browser console: %s", line)
			}
			mu.Unlock()
		}
		if err := bctx.Close(); err != nil {
			t.Logf("closing browser context: %v", err)
		}
	})
	return page
}

// screenshot saves a full-page PNG as e2e/screenshots/<name>.png, for people
// to look at; it is not compared against anything.
func screenshot(t *testing.T, page playwright.Page, name string) {
	t.Helper()
	path, err := saveScreenshot(page, name)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
}

func saveScreenshot(page playwright.Page, name string) (string, error) {
	if err := os.MkdirAll(screenshotsDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(screenshotsDir, name+".png")
	_, err := page.Screenshot(playwright.PageScreenshotOptions{
		Path:     playwright.String(path),
		FullPage: playwright.Bool(true),
	})
	return path, err
}

var build struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds ./cmd/web once per test binary and returns its path.
// Only tests that need the real program call it.
func buildBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "pglinks-e2e-")
		if err != nil {
			build.err = err
			return
		}
		binDir = dir
		path := filepath.Join(dir, "web")
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", path, "./cmd/web")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/web: %w\n%s", err, out)
			return
		}
		build.path = path
		fmt.Printf("e2e: built ./cmd/web in %v\n", time.Since(start).Round(time.Millisecond))
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// server is a running `web serve`.
type server struct {
	URL string // http://127.0.0.1:<port>, no trailing slash

	cmd  *exec.Cmd
	mu   sync.Mutex // guards logs, written by the process while it runs
	logs *bytes.Buffer
	done chan struct{} // closed when the process has exited
}

// Logs returns what the server has written to stdout and stderr so far.
func (s *server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.Write(p)
}

// startServer runs the built binary as `web serve` on port 0 of 127.0.0.1
// (the kernel picks a free port as the server binds it, so no other test
// can take it first), reads the address from the server's "pglinks
// listening" log line, and waits until GET /healthz answers 200. The process sees only
// env plus a minimal base (PATH, HOME, TMPDIR, LANG), so settings from the
// developer's shell (DATABASE_URL, ...) never leak into a test. It is stopped
// (SIGTERM, then SIGKILL) when the test ends; if the test failed, its logs are
// printed.
func startServer(t *testing.T, env []string) *server {
	t.Helper()
	bin := buildBinary(t)

	s := &server{
		logs: new(bytes.Buffer),
		done: make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "serve")
	// Tests change catalogs by hand between page views: no inventory
	// snapshots, every view reads (the snapshots have tests of their own).
	s.cmd.Env = append(append(baseEnv(), "PGLINKS_INVENTORY_MAX_AGE=0s"), env...)
	s.cmd.Env = append(s.cmd.Env, "PORT=0", "HOST=127.0.0.1")
	s.cmd.Stdout = s
	s.cmd.Stderr = s
	// Kill the server with the test binary even when cleanups cannot run
	// (a test timeout panics and exits).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	var waitErr error
	go func() {
		waitErr = s.cmd.Wait()
		close(s.done)
	}()

	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("server logs (%s):\n%s", s.URL, s.Logs())
		}
	})

	start := time.Now()
	deadline := start.Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.done:
			t.Fatalf("web serve exited before answering /healthz: %v (logs below)", waitErr)
		default:
		}
		if s.URL == "" {
			if m := listeningRe.FindStringSubmatch(s.Logs()); m != nil {
				s.URL = "http://" + m[1]
			}
		}
		var resp *http.Response
		err := errors.New("not listening yet")
		if s.URL != "" {
			resp, err = client.Get(s.URL + "/healthz")
		}
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("web serve ready at %s in %v", s.URL, time.Since(start).Round(time.Millisecond))
				return s
			}
		}
		if time.Now().After(deadline) {
			status := "no answer"
			if err != nil {
				status = err.Error()
			} else {
				status = resp.Status
			}
			t.Fatalf("web serve not healthy after 20s (last /healthz: %s; logs below)", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listeningRe finds the address in serve's log line once it listens.
var listeningRe = regexp.MustCompile(`msg="pglinks listening" addr=(127\.0\.0\.1:[0-9]+)`)

// stop sends SIGTERM, waits up to 10s for a graceful exit, then kills.
func (s *server) stop(t *testing.T) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Logf("web serve did not exit 10s after SIGTERM; killing it")
		s.cmd.Process.Kill()
		<-s.done
	}
}

func baseEnv() []string {
	env := []string{"LANG=C.UTF-8"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// TestBrowserSmoke proves the harness: driver, chromium, locators, screenshots.
func TestBrowserSmoke(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pglinks smoke</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem">
<h1 data-testid="title">Data links</h1>
<p>The e2e harness can drive chromium.</p>
</body></html>`)
	}))
	defer ts.Close()

	page := newPage(t)
	start := time.Now()
	if _, err := page.Goto(ts.URL); err != nil {
		t.Fatalf("goto %s: %v", ts.URL, err)
	}
	if err := expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToHaveText("Data links"); err != nil {
		t.Fatal(err)
	}
	if err := expect.Page(page).ToHaveTitle("pglinks smoke"); err != nil {
		t.Fatal(err)
	}
	t.Logf("page loaded and asserted in %v", time.Since(start).Round(time.Millisecond))
	screenshot(t, page, "smoke")
}
