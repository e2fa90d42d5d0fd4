package fleet

import (
	"fmt"
	"strings"
	"testing"
)

func TestConnInfo(t *testing.T) {
	f, err := Load([]string{
		"DATABASE_URL=postgres://app:s3cr3t-Pa55@db.example.com:6212/d8x",
		"HEROKU_POSTGRESQL_BLUE_URL=postgres://u:pw-loop@127.0.0.1:5433/local",
	})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := f.ConnInfo("DATABASE_URL")
	if err != nil {
		t.Fatal(err)
	}
	if ci.SSLMode != "require" || ci.KeywordValue != "host=db.example.com port=6212 dbname=d8x user=app sslmode=require" {
		t.Fatalf("conninfo = %+v", ci)
	}
	if ci.PsqlFromVar != `PGSSLMODE=require psql "$DATABASE_URL"` || ci.PgpassLine != "db.example.com:6212:d8x:app:YOUR_PASSWORD" {
		t.Fatalf("conninfo = %+v", ci)
	}
	loop, _ := f.ConnInfo("HEROKU_POSTGRESQL_BLUE_URL")
	if !strings.HasPrefix(loop.SSLMode, "prefer") || strings.Contains(loop.KeywordValue, "sslmode") {
		t.Fatalf("loopback conninfo = %+v", loop)
	}
	for _, c := range []*ConnectionInfo{ci, loop} {
		if s := fmt.Sprintf("%+v", *c); strings.Contains(s, "s3cr3t") || strings.Contains(s, "pw-loop") {
			t.Fatalf("conninfo holds a password: %s", s)
		}
	}
	if _, err := f.ConnInfo("NOPE_URL"); err == nil {
		t.Fatal("unknown config var accepted")
	}
}
