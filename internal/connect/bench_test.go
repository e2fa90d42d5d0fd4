package connect

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkSyncState reads the sync state of a Connect schema whose
// opportunity table holds 1,000,000 rows, without and with an index on
// _hc_lastop, against two floors on the same connection: SELECT 1 and the
// bare catalog query that recognises the schema; and, for scale, the
// unbounded GROUP BY the bounds avoid.
//
//	go test -run '^$' -bench SyncState -benchtime 20x -count 3 ./internal/connect/
func BenchmarkSyncState(b *testing.B) {
	d, conn := connectDB(b)
	ctx := context.Background()
	setup, err := pgx.Connect(ctx, d.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer setup.Close(ctx)
	for _, q := range []string{
		`INSERT INTO salesforce.opportunity (sfid, name, amount, _hc_lastop, _hc_err)
		 SELECT 'o' || g, 'deal ' || g, g,
		        CASE WHEN g % 1000 = 0 THEN 'FAILED' WHEN g % 100 = 0 THEN 'PENDING' WHEN g % 3 = 0 THEN NULL ELSE 'SYNCED' END,
		        CASE WHEN g % 1000 = 0 THEN '{"op":"UPDATE","src":"SFDC","msg":"row ' || g || '"}' END
		 FROM generate_series(1, 1000000) g`,
		`VACUUM ANALYZE salesforce.opportunity`,
	} {
		if _, err := setup.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	read := func(b *testing.B, want string) {
		for b.Loop() {
			st, err := ReadSyncState(ctx, conn, "salesforce", nil, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, ts := range st.Tables {
				if ts.Err != "" {
					b.Fatalf("%s: %s", ts.Name, ts.Err)
				}
			}
			if got := st.Tables[2].CountsHow; got != want {
				b.Fatalf("opportunity counted %q, want %q", got, want)
			}
		}
	}
	b.Run("floor=select1", func(b *testing.B) {
		for b.Loop() {
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("floor=detect", func(b *testing.B) {
		for b.Loop() {
			if _, err := Detect(ctx, conn, "salesforce"); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What the bounds avoid: counting every row by _hc_lastop.
	b.Run("rows=1M/unbounded-groupby", func(b *testing.B) {
		for b.Loop() {
			rows, err := conn.Query(ctx, "SELECT _hc_lastop, count(*) FROM salesforce.opportunity GROUP BY 1")
			if err != nil {
				b.Fatal(err)
			}
			rows.Close()
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
		}
	})
	b.Run("rows=1M/index=no", func(b *testing.B) { read(b, "sample") })
	for _, q := range []string{`CREATE INDEX ON salesforce.opportunity (_hc_lastop)`, `VACUUM ANALYZE salesforce.opportunity`} {
		if _, err := setup.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("rows=1M/index=yes", func(b *testing.B) { read(b, "index") })
}
