package links

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/fleet"
)

// A probe through a link names why the remote could not be reached the way
// cards name a database's failure (fleet.Classify), each cause produced
// for real on the remote or in the link's server options, from what
// postgres_fdw relays of libpq's message.
func TestProbeClassifiesCauses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	shortTimeouts(f.svc)
	createSales(t, f)
	closed := closedPortURL(t)
	u, _ := net.ResolveTCPAddr("tcp", closed[strings.Index(closed, "@")+1:strings.Index(closed, "/gone")])
	owner := fleet.Ident(f.remote.Owner)
	for _, c := range []struct {
		name          string
		breakIt, mend string // on the remote as a superuser (super) or on the link's server
		super         bool
		cause         fleet.Cause
		reason        string
	}{
		{"PasswordRefused", "ALTER ROLE " + owner + " PASSWORD 'rotated'", "ALTER ROLE " + owner + " PASSWORD '" + f.remote.Password + "'", true,
			fleet.CausePassword, "password refused: HEROKU_POSTGRESQL_BLUE_URL rejected the credentials stored in the link"},
		{"RoleMayNotLogIn", "ALTER ROLE " + owner + " NOLOGIN", "ALTER ROLE " + owner + " LOGIN", true,
			fleet.CauseRole, `role refused: HEROKU_POSTGRESQL_BLUE_URL: role "` + f.remote.Owner + `" is not permitted to log in`},
		{"TooManyConnections", "ALTER ROLE " + owner + " CONNECTION LIMIT 0", "ALTER ROLE " + owner + " CONNECTION LIMIT -1", true,
			fleet.CauseTooMany, "too many connections: HEROKU_POSTGRESQL_BLUE_URL: no connection slot is left"},
		{"DatabaseMissing", "ALTER SERVER sales OPTIONS (SET dbname 'no_such_db')", "ALTER SERVER sales OPTIONS (SET dbname '" + f.remote.Name + "')", false,
			fleet.CauseNoDatabase, "database does not exist: HEROKU_POSTGRESQL_BLUE_URL: the server answers but has no database no_such_db"},
		{"ConnectionRefused", "ALTER SERVER sales OPTIONS (SET port '" + strconv.Itoa(u.Port) + "')", "ALTER SERVER sales OPTIONS (SET port '" + strconv.Itoa(clusterB.Port) + "')", false,
			fleet.CauseConnRefused, "remote unreachable: connection refused: nothing accepts connections at 127.0.0.1:" + strconv.Itoa(u.Port)},
		{"HostNotFound", "ALTER SERVER sales OPTIONS (SET host 'nonexistent.invalid')", "ALTER SERVER sales OPTIONS (SET host '127.0.0.1')", false,
			fleet.CauseHostNotFound, "remote unreachable: host not found: the host name nonexistent.invalid does not resolve"},
		{"NotAnswering", "ALTER SERVER sales OPTIONS (SET port '" + silentListener(t) + "', SET connect_timeout '1')", "ALTER SERVER sales OPTIONS (SET port '" + strconv.Itoa(clusterB.Port) + "')", false,
			fleet.CauseTimeout, "remote unreachable: not answering"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := func(sql string) {
				t.Helper()
				if c.super {
					if err := clusterB.Exec(t.Context(), "postgres", sql); err != nil {
						t.Fatal(err)
					}
					return
				}
				execAs(t, f.local.URL, sql)
			}
			run(c.breakIt)
			defer run(c.mend)
			h := probe(t, f.svc, "sales")
			if h.State != HealthBroken || h.Cause != c.cause || !strings.HasPrefix(h.Reason, c.reason) {
				t.Fatalf("probe: %s %q (%s), want %s %q", h.State, h.Reason, h.Cause, c.cause, c.reason)
			}
			if !c.cause.Network() && strings.Contains(h.Reason, "unreachable") {
				t.Errorf("reason %q calls an answering remote unreachable", h.Reason)
			}
		})
	}
	if h := probe(t, f.svc, "sales"); h.State != HealthHealthy {
		t.Fatalf("mended link: %+v", h)
	}
}
