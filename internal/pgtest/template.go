package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// initdbArgs are the initdb options of every cluster, after -D.
var initdbArgs = []string{"-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
	"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"}

// templateRoot holds the initdb'ed data directories new clusters are
// copied from (see dataTemplate). Not under a "pglinks-pg-" name: sweepStale
// leaves it alone.
const templateRoot = "/tmp/pglinks-pgtemplates"

// dataTemplate is a data directory as initdb leaves it, and the superuser's
// password it was made with.
type dataTemplate struct {
	data, password string
}

// dataTemplate returns the data directory of c's server binaries as initdb
// made it, making it once per machine: initdb costs about 1.3 CPU-seconds,
// a copy of its 40 MB about 0.1, and `go test ./...` starts dozens of
// clusters in processes side by side. The key names the binaries (path,
// size and time of initdb and postgres), the options and the user, so a
// new minor version or another user gets its own. Two processes making
// the same one at once both run initdb; the first to rename its result into
// place wins and the other uses that.
func (c *Cluster) dataTemplate(ctx context.Context, root string) (dataTemplate, error) {
	key := sha256.New()
	fmt.Fprintf(key, "layout 1\n%s\n%s\nuid %d\n", c.bin, strings.Join(initdbArgs, " "), os.Geteuid())
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(c.bin, name))
		if err != nil {
			return dataTemplate{}, fmt.Errorf("pgtest: %w", err)
		}
		fmt.Fprintf(key, "%s %d %d\n", name, fi.Size(), fi.ModTime().UnixNano())
	}
	dir := filepath.Join(root, hex.EncodeToString(key.Sum(nil))[:16])
	t, err := readTemplate(dir)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, os.ErrNotExist) || dirExists(dir) {
		// Damaged since it was made (a /tmp cleaner takes old files):
		// made again.
		if err := os.RemoveAll(dir); err != nil {
			return dataTemplate{}, err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return dataTemplate{}, err
	}
	tmp, err := os.MkdirTemp(root, "new-")
	if err != nil {
		return dataTemplate{}, err
	}
	defer os.RemoveAll(tmp)              // left only when the rename did not take it
	if err := c.chown(tmp); err != nil { // initdb, as the server user, makes data/ in it
		return dataTemplate{}, err
	}
	password := RandomToken(16)
	pwfile := filepath.Join(tmp, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return dataTemplate{}, err
	}
	if err := c.chown(pwfile); err != nil {
		return dataTemplate{}, err
	}
	args := append([]string{"-D", filepath.Join(tmp, "data")}, initdbArgs...)
	if out, err := c.run(ctx, tmp, "initdb", append(args, "--pwfile="+pwfile)...); err != nil {
		return dataTemplate{}, fmt.Errorf("pgtest: initdb: %w: %s", err, out)
	}
	// The password stays readable by this user only; the data directory
	// is the server user's, as initdb made it.
	if err := os.WriteFile(filepath.Join(tmp, "password"), []byte(password), 0o600); err != nil {
		return dataTemplate{}, err
	}
	n, err := countFiles(filepath.Join(tmp, "data"))
	if err != nil {
		return dataTemplate{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "files"), []byte(strconv.Itoa(n)), 0o600); err != nil {
		return dataTemplate{}, err
	}
	if err := os.Remove(pwfile); err != nil {
		return dataTemplate{}, err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, syscall.EEXIST) && !errors.Is(err, syscall.ENOTEMPTY) {
		return dataTemplate{}, err
	}
	return readTemplate(dir)
}

// readTemplate reads the template in dir, which must hold as many files
// as initdb made.
func readTemplate(dir string) (dataTemplate, error) {
	pw, err := os.ReadFile(filepath.Join(dir, "password"))
	if err != nil {
		return dataTemplate{}, err
	}
	want, err := os.ReadFile(filepath.Join(dir, "files"))
	if err != nil {
		return dataTemplate{}, err
	}
	data := filepath.Join(dir, "data")
	if n, err := countFiles(data); err != nil || strconv.Itoa(n) != string(want) {
		return dataTemplate{}, fmt.Errorf("pgtest: template %s has %d files of %s (%v)", dir, n, want, err)
	}
	return dataTemplate{data: data, password: string(pw)}, nil
}

// countFiles counts the regular files under dir.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// copyTemplate copies t's data directory to c's, owners and modes kept.
func (c *Cluster) copyTemplate(ctx context.Context, t dataTemplate) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", t.data, c.dataDir()).CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: copying %s: %w: %s", t.data, err, out)
	}
	return nil
}

// Template makes database name once per cluster, filled by fill (which
// connects with the URL it is given, as the database's owner), for
// CreateDatabase's DBOptions.Template: a test's database made that way is a
// file copy instead of fill run again, e.g. a state database's migrations.
// Once filled it takes no connections (so copies never wait for one to
// end) and belongs to the superuser, so the copies' REASSIGN OWNED moves
// only what fill made.
func (c *Cluster) Template(ctx context.Context, name string, opts DBOptions, fill func(ctx context.Context, url string) error) error {
	c.templatesMu.Lock()
	defer c.templatesMu.Unlock()
	if err, done := c.templates[name]; done {
		return err
	}
	err := func() error {
		d, err := c.CreateDatabase(ctx, name, opts)
		if err != nil {
			return err
		}
		if err := fill(ctx, d.URL); err != nil {
			return fmt.Errorf("pgtest: filling template %s: %w", name, err)
		}
		db := pgx.Identifier{name}.Sanitize()
		return c.execEach(ctx, "postgres",
			fmt.Sprintf("ALTER DATABASE %s OWNER TO postgres", db),
			fmt.Sprintf("ALTER DATABASE %s WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", db))
	}()
	if c.templates == nil {
		c.templates = map[string]error{}
	}
	c.templates[name] = err
	return err
}
