package links

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/pglinks/pglinks/internal/fleet"
)

// Link metadata is also written into the catalog, as JSON comments on the
// foreign server and on the schema, for people reading the catalog. Both
// comments carry the same random id as pglinks' own record of the link in
// the state database (registry.go); only a server and schema whose ids
// and oids match a record are a link, since anyone with a database's app
// role can write comments.

const metaKey = "pglinks"

type linkMeta struct {
	Version            int       `json:"v"`
	ID                 string    `json:"id"`
	Link               string    `json:"link"`
	CreatedAt          time.Time `json:"created_at"`
	CreatedBy          string    `json:"created_by,omitempty"`
	RemoteConfigVar    string    `json:"remote_config_var"`
	RemoteResourceName string    `json:"remote_resource_name"`
	RemoteSchema       string    `json:"remote_schema"`
	MappingRole        string    `json:"mapping_role"`
	Tables             []string  `json:"tables,omitempty"`
	ReadOnly           bool      `json:"read_only,omitempty"`
	// Kind is "redis" for a link that reads a Redis.
	Kind string `json:"kind,omitempty"`
}

func (m linkMeta) comment() string {
	b, _ := json.Marshal(map[string]linkMeta{metaKey: m})
	return string(b)
}

// parseMeta reads a pglinks comment; ok is false for anything else.
func parseMeta(comment string) (linkMeta, bool) {
	if !strings.HasPrefix(comment, `{"`+metaKey+`"`) {
		return linkMeta{}, false
	}
	var wrapper map[string]linkMeta
	if err := json.Unmarshal([]byte(comment), &wrapper); err != nil {
		return linkMeta{}, false
	}
	m, ok := wrapper[metaKey]
	if !ok || m.Version != 1 || m.ID == "" || m.Link == "" {
		return linkMeta{}, false
	}
	return m, true
}

// appName is the application_name of the link's remote connections:
// unique per link, so pglinks can find them on the remote (for example to
// cut a connection stuck on a remote that stopped answering).
func (m linkMeta) appName() string {
	id := m.ID
	if len(id) > 12 {
		id = id[:12]
	}
	name := "pglinks/" + id + "/" + m.Link
	if len(name) > fleet.MaxIdentLen {
		name = name[:fleet.MaxIdentLen]
	}
	return name
}
