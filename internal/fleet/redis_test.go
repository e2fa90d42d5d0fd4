package fleet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/redistest"
)

func TestLoadRedis(t *testing.T) {
	ca, testCA := filepath.Join(t.TempDir(), "ca.pem"), genCA(t)
	if err := os.WriteFile(ca, []byte(testCA), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load([]string{
		"DATABASE_URL=postgres://u:p@127.0.0.1/main",
		"REDIS_URL=rediss://:s3cret@redis.example.com:6380/2?tls_ca_file=" + ca,
		"HEROKU_REDIS_MAROON_URL=redis://default:pw@10.0.0.9",
		"HEROKU_REDIS_AMBER_URL=rediss://:pw@127.0.0.1:7000?tls_verify=false",
		"CACHE=redis://:pw@cache:6379/1",
		"PGLINKS_DATABASES=CACHE",
		"PGLINKS_RESOURCE_NAMES=REDIS_URL=redis-cubed-12345",
	})
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, d := range f.Databases {
		vars = append(vars, d.ConfigVar)
	}
	if got := strings.Join(vars, ","); got != "DATABASE_URL,REDIS_URL,HEROKU_REDIS_AMBER_URL,HEROKU_REDIS_MAROON_URL,CACHE" {
		t.Fatalf("fleet order = %s", got)
	}
	if pg := f.PostgresDatabases(); len(pg) != 1 || pg[0].ConfigVar != "DATABASE_URL" || pg[0].IsRedis() || !f.HasRedis() {
		t.Fatalf("PostgresDatabases = %v", pg)
	}
	r, _ := f.Get("REDIS_URL")
	if !r.IsRedis() || r.ConfigErr != nil || r.ResourceName != "redis-cubed-12345" || r.Host != "redis.example.com" || r.Port != "6380" ||
		r.Redis.DB != 2 || r.DBName != "2" || r.User != "" || r.Password() != "s3cret" || !r.Redis.TLS || !r.Redis.TLSVerify || r.Redis.CAPEM != testCA {
		t.Fatalf("REDIS_URL = %+v %+v", r, r.Redis)
	}
	if got := r.MaskedURL(); got != "rediss://:***@redis.example.com:6380/2?tls_ca_file="+ca {
		t.Errorf("masked = %s", got)
	}
	if c := r.Redis.TLSConfig(); c == nil || c.RootCAs == nil || c.ServerName != "redis.example.com" || c.InsecureSkipVerify {
		t.Errorf("TLS config %+v", c)
	}
	m, _ := f.Get("HEROKU_REDIS_MAROON_URL")
	if m.ConfigErr != nil || m.Redis.TLS || m.User != "default" || m.Port != "6379" || m.Redis.TLSConfig() != nil || !strings.HasPrefix(m.ResourceName, "redis-") {
		t.Errorf("MAROON = %+v", m)
	}
	a, _ := f.Get("HEROKU_REDIS_AMBER_URL")
	if a.ConfigErr != nil || !a.Redis.TLS || a.Redis.TLSVerify || !a.Redis.TLSConfig().InsecureSkipVerify {
		t.Errorf("AMBER = %+v", a.Redis)
	}
	c, _ := f.Get("CACHE")
	if !c.IsRedis() || c.Redis.DB != 1 {
		t.Errorf("CACHE = %+v", c)
	}
	if _, err := f.Acquire(context.Background(), c, ClassUser); !errs.Is(err, errs.Invalid) || !strings.Contains(errs.MessageOf(err), "is a Redis") {
		t.Errorf("a PostgreSQL connection to a Redis: %v", err)
	}
}

func TestLoadRedisMisconfigured(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://u:p@h/db":                      "does not hold a redis:// or rediss:// URL",
		"redis://:p@h/zero":                        "a Redis database is a number",
		"redis://:p@h?tls_verify=false":            "TLS needs rediss://",
		"rediss://:p@h?verify=no":                  `the option "verify"`,
		"rediss://:p@h?tls_verify=maybe":           "tls_verify is true or false",
		"rediss://:p@h?tls_ca_file=/nonexistent/x": "tls_ca_file",
		"redis://alice@h":                          "without a password",
		"redis://:p@h:99999":                       "no valid port",
	} {
		f, err := Load([]string{"REDIS_URL=" + raw})
		if err != nil {
			t.Fatal(err)
		}
		d := f.Databases[0]
		if d.ConfigErr == nil || !strings.Contains(d.ConfigErr.Error(), want) || !d.IsRedis() {
			t.Errorf("%s: ConfigErr = %v, want %q", raw, d.ConfigErr, want)
		}
		if d.ConfigErr != nil && strings.Contains(d.ConfigErr.Error(), ":p@") {
			t.Errorf("%s: the password is in %v", raw, d.ConfigErr)
		}
	}
}

func TestMaskRedisURLs(t *testing.T) {
	for in, want := range map[string]string{
		"rediss://:pw@h:6380/0":                         "rediss://:***@h:6380/0",
		"REDIS://user:p%40ss@h":                         "REDIS://user:***@h",
		"dial redis://:x@h failed; postgres://u:y@h/db": "dial redis://:***@h failed; postgres://u:***@h/db",
		"redis is up":                                   "redis is up",
	} {
		if got := MaskURLs(in); got != want {
			t.Errorf("MaskURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

func startRedis(t *testing.T, opts redistest.Options) *redistest.Server {
	t.Helper()
	s, err := redistest.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func redisFleet(t *testing.T, url string) (*Fleet, *Database) {
	t.Helper()
	f, err := Load([]string{"REDIS_URL=" + url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	d := f.Databases[0]
	if d.ConfigErr != nil {
		t.Fatal(d.ConfigErr)
	}
	return f, d
}

// ReadRedis reads a card's facts, and says in words why it could not:
// each failure against a real redis-server (or a port that does not
// answer), never with the password in the message.
func TestReadRedis(t *testing.T) {
	const pw = "card-secret-42"
	plain := startRedis(t, redistest.Options{Password: pw})
	secure := startRedis(t, redistest.Options{TLS: true, Password: pw})
	open := startRedis(t, redistest.Options{})
	ctx := context.Background()
	if _, err := plain.Do(ctx, "SET", "a", "1"); err != nil {
		t.Fatal(err)
	}
	port := func(s *redistest.Server) string { return strconv.Itoa(s.Port) }

	t.Run("OK", func(t *testing.T) {
		f, d := redisFleet(t, "redis://:"+pw+"@127.0.0.1:"+port(plain))
		info, err := f.ReadRedis(ctx, d, ClassStatus)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(info.Version, "7.") && !strings.HasPrefix(info.Version, "6.") || info.Mode != "standalone" || info.Keys != 1 || info.Latency <= 0 {
			t.Fatalf("info = %+v", info)
		}
		if st := f.Stats(); st.Class[1].InUse != 0 || st.Class[1].Peak != 1 {
			t.Fatalf("the read's connection is not counted and given back: %+v", st)
		}
	})
	t.Run("TLSWithCAFile", func(t *testing.T) {
		f, d := redisFleet(t, "rediss://:"+pw+"@127.0.0.1:"+port(secure)+"?tls_ca_file="+secure.CAFile)
		if _, err := f.ReadRedis(ctx, d, ClassStatus); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("TLSVerifyOff", func(t *testing.T) {
		f, d := redisFleet(t, "rediss://:"+pw+"@127.0.0.1:"+port(secure)+"?tls_verify=false")
		if _, err := f.ReadRedis(ctx, d, ClassStatus); err != nil {
			t.Fatal(err)
		}
	})
	silent, err := redistest.NewSilentListener()
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed, err := redistest.NewSilentListener()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tc := range []struct{ name, url, want string }{
		{"ErrPasswordRefused", "redis://:wrong-one@127.0.0.1:" + port(plain), "refused the password in its config var (WRONGPASS)"},
		{"ErrNoPassword", "redis://127.0.0.1:" + port(plain), "requires a password, and its config var has none (NOAUTH)"},
		{"ErrPasswordNotAsked", "redis://:" + pw + "@127.0.0.1:" + port(open), "asks for no password"},
		{"ErrRefused", "redis://:" + pw + "@127.0.0.1:" + strconv.Itoa(closed.Port), "is unreachable: connection refused"},
		{"ErrNotAnswering", "redis://:" + pw + "@127.0.0.1:" + strconv.Itoa(silent.Port), "is unreachable: no answer in time"},
		{"ErrHostNotFound", "redis://:" + pw + "@no-such-host.invalid:6379", "host name not found"},
		{"ErrTLSRequired", "redis://:" + pw + "@127.0.0.1:" + port(secure), "if it requires TLS there, use rediss://"},
		{"ErrNotTLS", "rediss://:" + pw + "@127.0.0.1:" + port(plain) + "?tls_verify=false", "no TLS handshake: check that the port is Redis' TLS port"},
		{"ErrCertNotTrusted", "rediss://:" + pw + "@127.0.0.1:" + port(secure), "TLS certificate pglinks does not trust (signed by an unknown authority)"},
		{"ErrCertWrongHost", "rediss://:" + pw + "@localhost:" + port(secure) + "?tls_ca_file=" + secure.CAFile, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, d := redisFleet(t, tc.url)
			f.Deadlines.Connect, f.Deadlines.Status = time.Second, 2*time.Second
			start := time.Now()
			_, err := f.ReadRedis(ctx, d, ClassStatus)
			if tc.want == "" { // localhost is in the certificate: it works
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			msg := errs.MessageOf(err)
			if !errs.Is(err, errs.Unavailable) || !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "REDIS_URL (redis-") {
				t.Fatalf("err = %v\nwant a message with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "wrong-one") {
				t.Fatalf("the password is in %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v: past the deadlines", d)
			}
			if st := f.Stats(); st.Class[1].InUse != 0 {
				t.Fatalf("a failed read kept its token: %+v", st)
			}
		})
	}
}

// Redis connections count against the cap: with every status token held,
// a card read waits for the cap, and says pglinks was busy, not the Redis.
func TestRedisConnectionsCounted(t *testing.T) {
	s := startRedis(t, redistest.Options{Password: "pw"})
	f, d := redisFleet(t, "redis://:pw@127.0.0.1:"+strconv.Itoa(s.Port))
	f.MaxConns = MinMaxConns // 2 for the status class
	ctx := context.Background()
	var held []interface{ Close() error }
	for range 2 {
		c, err := f.DialRedis(ctx, d, ClassStatus)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := f.ReadRedis(short, d, ClassStatus)
	if !IsBusy(err) || !errors.Is(err, ErrConnCap) {
		t.Fatalf("err = %v, want the cap", err)
	}
	for _, c := range held {
		c.Close()
	}
	if _, err := f.ReadRedis(ctx, d, ClassStatus); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Class[1].InUse != 0 || st.Class[1].Peak != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// genCA is a throwaway CA certificate in PEM, for Load to read.
func genCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
