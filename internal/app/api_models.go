package app

import (
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
	"github.com/pglinks/pglinks/internal/links"
)

// The API's JSON shapes, built from the domain's types. Lists are never
// null (an empty list is []), except where null means something: a link's
// tables are null when it imports every table of its remote schema. Every
// name is the exact string the database holds.

type apiSupportJSON struct {
	OK            bool   `json:"ok"`
	Reason        string `json:"reason"`
	Role          string `json:"role"`
	Superuser     bool   `json:"superuser"`
	ServerVersion string `json:"server_version"`
}

type apiConnectJSON struct {
	Name   string   `json:"name"`
	Mapped []string `json:"mapped"`
}

type apiLinkRefJSON struct {
	Local string `json:"local"`
	Name  string `json:"name"`
}

// apiDatabaseJSON is one database's card.
type apiDatabaseJSON struct {
	ConfigVar    string `json:"config_var"`
	Kind         string `json:"kind"` // postgres or redis
	ResourceName string `json:"resource_name"`
	URL          string `json:"url"` // password masked
	Host         string `json:"host"`
	Port         string `json:"port"`
	DBName       string `json:"dbname"`
	User         string `json:"user"`
	SSLMode      string `json:"sslmode"`
	Reachable    bool   `json:"reachable"`
	// Pending: not read yet (its read did not finish in time); nothing is
	// known of it, which is not the same as unreachable.
	Pending      bool             `json:"pending"`
	Error        string           `json:"error"`
	AsOf         *time.Time       `json:"as_of"`
	FailingSince *time.Time       `json:"failing_since"`
	RetryAt      *time.Time       `json:"retry_at"`
	Support      apiSupportJSON   `json:"support"`
	Links        []apiLinkJSON    `json:"links"`
	Unrecorded   []string         `json:"unrecorded"`
	Connect      []apiConnectJSON `json:"connect_schemas"`
	ReadBy       []apiLinkRefJSON `json:"read_by"`
}

type apiRemoteJSON struct {
	ConfigVar    string `json:"config_var"`
	ResourceName string `json:"resource_name"`
}

type apiServerJSON struct {
	Host   string `json:"host"`
	Port   string `json:"port"`
	DBName string `json:"dbname"`
}

type apiHealthJSON struct {
	State     string     `json:"state"` // unknown | healthy | broken
	Reason    string     `json:"reason"`
	RTTMillis int64      `json:"rtt_ms"`
	CheckedAt *time.Time `json:"checked_at"`
}

type apiStaleJSON struct {
	Stale      bool     `json:"stale"`
	Repairable bool     `json:"repairable"`
	Summary    string   `json:"summary"`
	Changes    []string `json:"changes"`
	RemoteGone bool     `json:"remote_gone"`
	NoMapping  bool     `json:"no_mapping"`
}

// apiLinkJSON is one link as `pg:links` lists it, and more.
type apiLinkJSON struct {
	Name      string        `json:"name"`
	Kind      string        `json:"kind"` // postgres, or redis: the remote is a Redis
	Local     string        `json:"local"`
	CreatedAt time.Time     `json:"created_at"`
	CreatedBy string        `json:"created_by"`
	Remote    apiRemoteJSON `json:"remote"`
	// RemoteName is the foreign server's name, as Heroku's remote_name.
	RemoteName    string        `json:"remote_name"`
	RemoteSchema  string        `json:"remote_schema"`
	Server        apiServerJSON `json:"server"`
	ReadOnly      bool          `json:"read_only"`
	Tables        []string      `json:"tables"` // null: every table of remote_schema
	TableCount    int           `json:"table_count"`
	SchemaMissing bool          `json:"schema_missing"`
	CopiedTypes   []string      `json:"copied_types"`
	Health        apiHealthJSON `json:"health"`
	Stale         *apiStaleJSON `json:"stale"` // null: not compared
}

// kindJSON names a fleet member's kind: the zero kind is PostgreSQL.
func kindJSON(k fleet.Kind) string {
	if k == fleet.KindPostgres {
		return "postgres"
	}
	return string(k)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func healthJSON(h links.LinkHealth) apiHealthJSON {
	state := string(h.State)
	if state == "" {
		state = string(links.HealthUnknown)
	}
	return apiHealthJSON{State: state, Reason: h.Reason, RTTMillis: h.RTT.Milliseconds(), CheckedAt: timePtr(h.CheckedAt)}
}

func staleJSON(r *links.StaleReport) *apiStaleJSON {
	if r == nil {
		return nil
	}
	return &apiStaleJSON{Stale: r.Stale(), Repairable: r.Repairable(), Summary: r.Summary(), Changes: nonNil(r.Changes), RemoteGone: r.RemoteGone, NoMapping: r.NoMapping}
}

func linkJSON(l *links.Link, h links.LinkHealth) apiLinkJSON {
	out := apiLinkJSON{
		Name: l.Name, Kind: kindJSON(l.Kind), Local: l.LocalConfigVar, CreatedAt: l.CreatedAt, CreatedBy: l.CreatedBy,
		Remote:     apiRemoteJSON{ConfigVar: l.RemoteConfigVar, ResourceName: l.RemoteResourceName},
		RemoteName: l.ServerName, RemoteSchema: l.RemoteSchema,
		Server:   apiServerJSON{Host: l.Host, Port: l.Port, DBName: l.DBName},
		ReadOnly: l.ReadOnly, TableCount: l.TableCount, SchemaMissing: l.SchemaMissing,
		CopiedTypes: nonNil(l.CopiedTypes), Health: healthJSON(h), Stale: staleJSON(l.Stale),
	}
	if l.Tables != nil {
		out.Tables = append([]string{}, l.Tables...)
	}
	return out
}

// databaseJSON is a card: st with its links' health and staleness, and the
// links elsewhere that read from it.
func databaseJSON(st links.DatabaseStatus, health map[string]links.LinkHealth, readBy []links.Link) apiDatabaseJSON {
	d := st.DB
	out := apiDatabaseJSON{
		ConfigVar: d.ConfigVar, Kind: kindJSON(d.Kind), ResourceName: d.ResourceName, URL: d.MaskedURL(),
		Host: d.Host, Port: d.Port, DBName: d.DBName, User: d.User, SSLMode: d.SSLMode,
		Reachable: st.Reachable, Pending: st.Pending, Error: st.Error,
		AsOf: timePtr(st.AsOf), FailingSince: timePtr(st.FailingSince), RetryAt: timePtr(st.RetryAt),
		Support: apiSupportJSON{OK: st.Support.OK, Reason: st.Support.Reason, Role: st.Support.Role, Superuser: st.Support.Superuser, ServerVersion: st.Support.ServerVersion},
		Links:   []apiLinkJSON{}, Unrecorded: nonNil(st.Unrecorded), Connect: []apiConnectJSON{}, ReadBy: []apiLinkRefJSON{},
	}
	for i := range st.Links {
		l := &st.Links[i]
		out.Links = append(out.Links, linkJSON(l, health[links.HealthKey(d.ConfigVar, l.Name)]))
	}
	if st.LinksUnknown {
		out.Links = nil // unknown, not none: error says why
	}
	for _, cs := range st.Connect {
		out.Connect = append(out.Connect, apiConnectJSON{Name: cs.Name, Mapped: nonNil(cs.Mapped)})
	}
	for _, l := range readBy {
		out.ReadBy = append(out.ReadBy, apiLinkRefJSON{Local: l.LocalConfigVar, Name: l.Name})
	}
	return out
}

type apiColumnJSON struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	NotNull bool   `json:"not_null"`
}

type apiForeignTableJSON struct {
	Schema       string `json:"schema"`
	Name         string `json:"name"`
	Server       string `json:"server"`
	RemoteSchema string `json:"remote_schema"`
	RemoteTable  string `json:"remote_table"`
	// RedisType and KeyPrefix are a Redis link's table's ("" otherwise).
	RedisType string          `json:"redis_type"`
	KeyPrefix string          `json:"key_prefix"`
	Columns   []apiColumnJSON `json:"columns"`
}

func foreignTablesJSON(ts []links.ForeignTable) []apiForeignTableJSON {
	out := []apiForeignTableJSON{}
	for _, t := range ts {
		ft := apiForeignTableJSON{Schema: t.Schema, Name: t.Name, Server: t.Server, RemoteSchema: t.RemoteSchema, RemoteTable: t.RemoteTable, RedisType: t.RedisType, KeyPrefix: t.KeyPrefix, Columns: []apiColumnJSON{}}
		for _, c := range t.Columns {
			ft.Columns = append(ft.Columns, apiColumnJSON{Name: c.Name, Type: c.Type, NotNull: c.NotNull})
		}
		out = append(out, ft)
	}
	return out
}

type apiDependentJSON struct {
	Type        string `json:"type"`
	Schema      string `json:"schema"`
	Identity    string `json:"identity"`
	Description string `json:"description"`
}

func dependentsJSON(ds []links.Dependent) []apiDependentJSON {
	out := []apiDependentJSON{}
	for _, d := range ds {
		out = append(out, apiDependentJSON{Type: d.Type, Schema: d.Schema, Identity: d.Identity, Description: d.Description})
	}
	return out
}

type apiTypeFateJSON struct {
	Type   string `json:"type"`
	Drop   bool   `json:"drop"`
	Reason string `json:"reason"`
}

func typeFatesJSON(ts []links.TypeFate) []apiTypeFateJSON {
	out := []apiTypeFateJSON{}
	for _, t := range ts {
		out = append(out, apiTypeFateJSON{Type: t.Type, Drop: t.Drop, Reason: t.Reason})
	}
	return out
}

// apiPageJSON says where a page of a list is: next_page is null on the
// last page.
type apiPageJSON struct {
	Page     int  `json:"page"`
	PerPage  int  `json:"per_page"`
	Total    int  `json:"total"`
	NextPage *int `json:"next_page"`
}

func pageOf(page, perPage, total int) apiPageJSON {
	p := apiPageJSON{Page: page, PerPage: perPage, Total: total}
	if page*perPage < total {
		n := page + 1
		p.NextPage = &n
	}
	return p
}
