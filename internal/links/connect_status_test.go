package links

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pglinks/pglinks/internal/connect"
	"github.com/pglinks/pglinks/internal/errs"
	"github.com/pglinks/pglinks/internal/fleet"
)

// connectFixture is a fixture whose remote holds a Heroku Connect schema.
func connectFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	sql, err := os.ReadFile("../connect/testdata/salesforce.sql")
	if err != nil {
		t.Fatal(err)
	}
	execAs(t, f.remote.URL, string(sql))
	return f
}

func TestConnectSchemaInStatus(t *testing.T) {
	t.Parallel()
	f := connectFixture(t)
	st := mustStatus(t, f.svc, blue)
	if len(st.Connect) != 1 || st.Connect[0].Name != "salesforce" || !slices.Equal(st.Connect[0].Mapped, []string{"account", "contact", "opportunity"}) {
		t.Fatalf("Connect = %+v (error %q)", st.Connect, st.Error)
	}
	if local := mustStatus(t, f.svc, "DATABASE_URL"); len(local.Connect) != 0 {
		t.Fatalf("local Connect = %+v", local.Connect)
	}
}

func TestConnectImportRules(t *testing.T) {
	t.Parallel()
	f := connectFixture(t)
	ctx := context.Background()
	mapped := []string{"account", "contact", "opportunity"}
	refused := []struct {
		name string
		req  CreateRequest
		want string
	}{
		{"all tables", CreateRequest{Tables: nil}, "Heroku Connect schema"},
		{"_hcmeta", CreateRequest{Tables: append(slices.Clone(mapped), "_hcmeta"), ReadOnly: true, ConnectTriggerLog: true}, "_hcmeta is a Heroku Connect system table"},
		{"archive", CreateRequest{Tables: []string{"account", "_trigger_log_archive"}, ReadOnly: true, ConnectTriggerLog: true}, "_trigger_log_archive is a Heroku Connect system table"},
		{"log without option", CreateRequest{Tables: []string{"account", "_trigger_log"}, ReadOnly: true}, "only with the option"},
		{"log read-write", CreateRequest{Tables: []string{"account", "_trigger_log"}, ConnectTriggerLog: true}, "read-only link"},
		{"log option read-write", CreateRequest{Tables: []string{"account"}, ConnectTriggerLog: true}, "read-only link"},
	}
	for _, c := range refused {
		req := c.req
		req.RemoteVar, req.LocalVar, req.Name, req.RemoteSchema = blue, "DATABASE_URL", "sf", "salesforce"
		_, err := f.svc.PreviewCreate(ctx, req)
		if errs.KindOf(err) != errs.Invalid || errs.FieldOf(err) != "tables" || !strings.Contains(errs.MessageOf(err), c.want) {
			t.Errorf("%s: preview err = %v, want Invalid on tables with %q", c.name, err, c.want)
		}
		if _, err := f.svc.CreateLink(ctx, req); errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: create err = %v", c.name, err)
		}
	}
	res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "sf", RemoteSchema: "salesforce", Tables: mapped, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tables != 3 || !slices.Equal(res.Link.Tables, mapped) || !res.Link.ReadOnly {
		t.Fatalf("created = %d tables %v read-only %v", res.Tables, res.Link.Tables, res.Link.ReadOnly)
	}
	// The option adds _trigger_log to the chosen tables.
	res, err = f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "sfdebug", RemoteSchema: "salesforce",
		Tables: []string{"account"}, ReadOnly: true, ConnectTriggerLog: true})
	if err != nil || res.Tables != 2 || !slices.Equal(res.Link.Tables, []string{"_trigger_log", "account"}) && !slices.Equal(res.Link.Tables, []string{"account", "_trigger_log"}) {
		t.Fatalf("with _trigger_log: %+v, %v", res, err)
	}
	// Other schemas are not concerned.
	if _, err := f.svc.PreviewCreate(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", Name: "pub", CopyEnums: true}); err != nil {
		t.Fatalf("public: %v", err)
	}
}

// A link of a Heroku Connect schema is named after the schema when no
// name is given, not after the remote's random resource name, and made
// unique when the local database already has that name (here a schema
// made by hand, which is not a link).
func TestConnectDefaultName(t *testing.T) {
	t.Parallel()
	f := connectFixture(t)
	ctx := context.Background()
	mustStatus(t, f.svc, blue) // the status read that finds the Connect schema
	mapped := []string{"account", "contact", "opportunity"}
	res, err := f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", RemoteSchema: "salesforce", Tables: mapped, ReadOnly: true})
	if err != nil || res.Link.Name != "salesforce" {
		t.Fatalf("first Connect link: %+v, %v; want the name salesforce", res, err)
	}
	execAs(t, f.local.URL, "CREATE SCHEMA salesforce_2")
	if name, err := f.svc.DefaultLinkName(ctx, blue, "DATABASE_URL", "salesforce"); err != nil || name != "salesforce_3" {
		t.Fatalf("default name with salesforce and salesforce_2 taken: %q, %v", name, err)
	}
	res, err = f.svc.CreateLink(ctx, CreateRequest{RemoteVar: blue, LocalVar: "DATABASE_URL", RemoteSchema: "salesforce", Tables: mapped, ReadOnly: true})
	if err != nil || res.Link.Name != "salesforce_3" {
		t.Fatalf("second Connect link: %+v, %v; want salesforce_3", res, err)
	}
	// Other schemas keep the resource name's rule.
	remote, _ := f.svc.Fleet.Get(blue)
	if name, err := f.svc.DefaultLinkName(ctx, blue, "DATABASE_URL", ""); err != nil || name != DefaultName(remote.ResourceName, "", nil) {
		t.Fatalf("public's default name: %q, %v", name, err)
	}
}

// A database that stops answering keeps its last known Connect schemas, so
// a Connect-backed link's page can say the remote is unreachable.
func TestConnectSchemaKeptWhileUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := connectFixture(t)
	if st, err := f.svc.RefreshStatus(ctx, blue); err != nil || connect.Find(st.Connect, "salesforce") == nil {
		t.Fatalf("reachable: %+v, %v", st, err)
	}
	// The remote refuses pglinks' credentials from now on.
	u, err := url.Parse(f.remote.URL)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	rotate(t, clusterB, f.remote)
	f.svc.Fleet.Close()
	st, err := f.svc.RefreshStatus(ctx, blue)
	if err != nil || st.Reachable || connect.Find(st.Connect, "salesforce") == nil {
		t.Fatalf("unreachable status forgot the Connect schema: %+v, %v", st, err)
	}
	// It answers again, without its Connect schema.
	if err := clusterB.Exec(ctx, "postgres", fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", fleet.Ident(f.remote.Owner), password)); err != nil {
		t.Fatal(err)
	}
	execAs(t, f.remote.URL, "DROP SCHEMA salesforce CASCADE")
	st, err = f.svc.RefreshStatus(ctx, blue)
	if err != nil || !st.Reachable || len(st.Connect) != 0 {
		t.Fatalf("a fresh read without Connect schemas kept them: %+v, %v", st.Connect, err)
	}
}
