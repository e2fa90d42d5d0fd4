package fleet

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestMaskDDL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"UserMapping",
			`CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (user 'bob', password 'secret')`,
			`CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (user 'bob', password '***')`},
		{"Set", `ALTER USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (SET password 'n3w')`,
			`ALTER USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (SET password '***')`},
		{"Add", `OPTIONS (ADD user 'u', ADD password 'pw')`, `OPTIONS (ADD user 'u', ADD password '***')`},
		{"DoubledQuotes", `OPTIONS (password 'it''s '' a '''' trap', user 'u')`, `OPTIONS (password '***', user 'u')`},
		{"EString", `OPTIONS (password E'it\'s \\ ok', user 'u')`, `OPTIONS (password '***', user 'u')`},
		{"EStringTrailingBackslash", `OPTIONS (password e'x\\', user 'u')`, `OPTIONS (password '***', user 'u')`},
		{"EStringDoubled", `OPTIONS (password E'a''b', user 'u')`, `OPTIONS (password '***', user 'u')`},
		{"UnicodeEscapeString", `OPTIONS (password U&'d\0061t', user 'u')`, `OPTIONS (password '***', user 'u')`},
		{"StandardBackslash", `OPTIONS (password 'a\', user 'u')`, `OPTIONS (password '***', user 'u')`},
		{"Dollar", `CREATE ROLE r LOGIN PASSWORD $$it's$$;`, `CREATE ROLE r LOGIN PASSWORD '***';`},
		{"DollarTag", `ALTER ROLE r PASSWORD $pw$a$$b$pw$ VALID UNTIL 'infinity'`, `ALTER ROLE r PASSWORD '***' VALID UNTIL 'infinity'`},
		{"QuotedIdentifier", `OPTIONS ("password" 'x', "user" 'u')`, `OPTIONS ("password" '***', "user" 'u')`},
		{"UpperCase", `OPTIONS (PASSWORD 'X')`, `OPTIONS (PASSWORD '***')`},
		{"RoleEncrypted", `CREATE ROLE app ENCRYPTED PASSWORD 'pw' LOGIN`, `CREATE ROLE app ENCRYPTED PASSWORD '***' LOGIN`},
		{"Newline", "OPTIONS (password\n\t'pw')", "OPTIONS (password\n\t'***')"},
		{"Comments", "OPTIONS (password /* a /* nested */ c */ -- x\n 'pw')", "OPTIONS (password /* a /* nested */ c */ -- x\n '***')"},
		{"NoSpace", `OPTIONS (password'pw')`, `OPTIONS (password'***')`},
		{"Unterminated", `OPTIONS (password 'pw, user 'u')`, `OPTIONS (password '***'u')`},
		{"UnterminatedToEnd", `OPTIONS (password 'pw`, `OPTIONS (password '***'`},
		{"UnterminatedDollar", `PASSWORD $$pw`, `PASSWORD '***'`},
		{"Several", `OPTIONS (password 'a'); OPTIONS (SET password 'b')`, `OPTIONS (password '***'); OPTIONS (SET password '***')`},
		{"NonASCII", `OPTIONS (user 'jürgen', password 'pässwörd€')`, `OPTIONS (user 'jürgen', password '***')`},
		{"PasswordRequiredKept", `OPTIONS (password_required 'false')`, `OPTIONS (password_required 'false')`},
		{"OtherWordsKept", `SELECT mypassword 'x', password_hash FROM t`, `SELECT mypassword 'x', password_hash FROM t`},
		{"NullKept", `ALTER ROLE r PASSWORD NULL`, `ALTER ROLE r PASSWORD NULL`},
		{"ProseKept", `password authentication failed for user "bob"`, `password authentication failed for user "bob"`},
		{"NoPassword", `IMPORT FOREIGN SCHEMA public FROM SERVER s INTO "link"`, `IMPORT FOREIGN SCHEMA public FROM SERVER s INTO "link"`},
		{"Empty", ``, ``},
		{"Conninfo", `CREATE SUBSCRIPTION s CONNECTION 'host=h password=secret dbname=d' PUBLICATION p`,
			`CREATE SUBSCRIPTION s CONNECTION 'host=h password=*** dbname=d' PUBLICATION p`},
		{"ConninfoLast", `CONNECTION 'host=h password=secret'`, `CONNECTION 'host=h password=***'`},
		{"ConninfoSpaces", `host=h password = secret user=u`, `host=h password = *** user=u`},
		{"ConninfoQuoted", `host=h password='a b\' c' user=u`, `host=h password=*** user=u`},
		{"ConninfoQuotedInSQL", `CONNECTION 'host=h password=''a b'' dbname=d'`, `CONNECTION 'host=h password=*** dbname=d'`},
		{"ConninfoEscapedSpace", `host=h password=a\ b user=u`, `host=h password=*** user=u`},
		{"ConninfoSSLPassword", `sslkey=k sslpassword=kp host=h`, `sslkey=k sslpassword=*** host=h`},
		{"JSON", `{"user":"u","password":"p\"w","host":"h"}`, `{"user":"u","password":"***","host":"h"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskDDL(tt.in); got != tt.want {
				t.Fatalf("MaskDDL(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskURLs(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"OK", `postgres://bob:secret@db.example.com:5432/app`, `postgres://bob:***@db.example.com:5432/app`},
		{"PostgreSQL", `postgresql://bob:secret@h/app?sslmode=require`, `postgresql://bob:***@h/app?sslmode=require`},
		{"UpperScheme", `POSTGRES://bob:secret@h/app`, `POSTGRES://bob:***@h/app`},
		{"InText", `dial failed for postgres://bob:secret@h/app: refused`, `dial failed for postgres://bob:***@h/app: refused`},
		{"Quoted", `url="postgres://bob:secret@h/app" next`, `url="postgres://bob:***@h/app" next`},
		{"SQLLiteral", `'postgres://bob:se''cret@h/app'`, `'postgres://bob:***@h/app'`},
		{"Several", `postgres://a:x@h1/d postgresql://b:y@h2/d`, `postgres://a:***@h1/d postgresql://b:***@h2/d`},
		{"Encoded", `postgres://bob:p%40ss%3Aw@h/app`, `postgres://bob:***@h/app`},
		{"RawAt", `postgres://bob:p@ss@h/app`, `postgres://bob:***@h/app`},
		{"RawSlash", `postgres://bob:pa/ss@h/app`, `postgres://bob:***@h/app`},
		{"RawQuestionMark", `postgres://bob:pa?ss@h/app`, `postgres://bob:***@h/app`},
		{"EmptyPassword", `postgres://bob:@h/app`, `postgres://bob:***@h/app`},
		{"IPv6", `postgres://bob:secret@[::1]:5432/app`, `postgres://bob:***@[::1]:5432/app`},
		{"NoPasswordKept", `postgres://bob@h/app`, `postgres://bob@h/app`},
		{"NoUserKept", `postgres://h:5432/app`, `postgres://h:5432/app`},
		{"PortThenAtInQueryKept", `postgres://h:5432/app?application_name=a@b`, `postgres://h:5432/app?application_name=a@b`},
		{"AtInQueryKept", `postgres://h/app?application_name=a:b@c`, `postgres://h/app?application_name=a:b@c`},
		{"AtInQueryOverMasked", `postgres://u:pw@h/app?application_name=a@b`, `postgres://u:***@b`},
		{"Base64Password", `postgres://u:k9/+AbC/x==@h/app`, `postgres://u:***@h/app`},
		{"QueryPassword", `postgres://h/app?user=bob&password=secret&sslmode=require`, `postgres://h/app?user=bob&password=***&sslmode=require`},
		{"QueryPasswordFragment", `postgres://h/app?PASSWORD=secret#x`, `postgres://h/app?PASSWORD=***#x`},
		{"Both", `postgres://bob:a@h/app?sslpassword=b`, `postgres://bob:***@h/app?sslpassword=***`},
		{"SchemeOnly", `postgres://`, `postgres://`},
		{"WordOnly", `postgres is great`, `postgres is great`},
		{"OtherSchemeKept", `mysql://bob:secret@h/app`, `mysql://bob:secret@h/app`},
		// What a fleet database's card and log line show.
		{"FleetURL", `postgres://u:p@h:5432/db`, `postgres://u:***@h:5432/db`},
		{"FleetURLNoPassword", `postgres://u@h/db`, `postgres://u@h/db`},
		{"FleetURLEncoded", `postgres://u:p%40ss%3Aw0rd@h/db?sslmode=x`, `postgres://u:***@h/db?sslmode=x`},
		{"FleetURLQuery", `postgres://h/db?user=u&password=secret`, `postgres://h/db?user=u&password=***`},
		{"Empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskURLs(tt.in); got != tt.want {
				t.Fatalf("MaskURLs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskSecrets(t *testing.T) {
	in := `CREATE USER MAPPING ... OPTIONS (user 'u', password 'pw1'); -- from postgres://u:pw2@h/d?password=pw3`
	got := MaskSecrets(in)
	for _, secret := range []string{"pw1", "pw2", "pw3"} {
		if strings.Contains(got, secret) {
			t.Fatalf("%q survived in %q", secret, got)
		}
	}
}

var portLike = regexp.MustCompile(`^[0-9]*[/?#]`)

// FuzzMask checks that whatever the password, the quoting pglinks (and
// PostgreSQL's quote_literal) would produce for it is masked completely, and
// so is a URL built with net/url.
func FuzzMask(f *testing.F) {
	for _, seed := range []string{"secret", "it's", `a\b'`, "$$", "'; --", "p@ss:w/rd?#", "pässwörd", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, password string) {
		quoted := []string{
			"'" + strings.ReplaceAll(password, "'", "''") + "'",
			"E'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(password) + "'",
		}
		for _, q := range quoted {
			ddl := "CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (user 'u', password " + q + ")"
			want := "CREATE USER MAPPING FOR CURRENT_USER SERVER s OPTIONS (user 'u', password '***')"
			if got := MaskSecrets(ddl); got != want {
				t.Fatalf("MaskSecrets(%q) = %q", ddl, got)
			}
		}
		u := (&url.URL{Scheme: "postgres", User: url.UserPassword("u", password), Host: "h:5432", Path: "/db"}).String()
		if got := MaskURLs("connect " + u + " failed"); got != "connect postgres://u:***@h:5432/db failed" {
			t.Fatalf("MaskURLs(%q) = %q", u, got)
		}
		// People also paste passwords unencoded. Whitespace ends a URL in
		// free text, and a password of digits then '/' reads as a port.
		if strings.ContainsAny(password, " \t\r\n\v\f<>") || portLike.MatchString(password) {
			return
		}
		raw := "connect postgres://u:" + password + "@h:5432/db failed"
		if got := MaskURLs(raw); got != "connect postgres://u:***@h:5432/db failed" {
			t.Fatalf("MaskURLs(%q) = %q", raw, got)
		}
	})
}
