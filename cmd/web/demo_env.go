package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// writeDemoEnv writes the demo dashboard's environment (config vars, state
// database, session keys) as a private shell file in dir, so a second
// dashboard can be started on the same clusters, e.g. with a config var
// changed after a password rotation:
//
//	set -a; . DIR/demo.env; set +a; PORT=8081 web serve
func writeDemoEnv(dir string, environ []string, keys []string) (string, error) {
	want := map[string]bool{"PGLINKS_SESSION_KEYS": true}
	for _, k := range keys {
		want[k] = true
	}
	var lines []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && want[k] {
			lines = append(lines, k+"="+shellQuote(v))
		}
	}
	sort.Strings(lines)
	path := filepath.Join(dir, "demo.env")
	body := "# pglinks demo: the dashboard's environment (holds passwords; removed when the demo stops)\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("demo: write %s: %w", path, err)
	}
	return path, nil
}
