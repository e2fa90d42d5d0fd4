package links

import (
	"embed"
	"strings"
)

//go:embed sql/*.sql
var sqlFS embed.FS

// stmt returns an embedded catalog query by file name.
func stmt(name string) string {
	b, err := sqlFS.ReadFile("sql/" + name + ".sql")
	if err != nil {
		panic("links: missing sql/" + name + ".sql")
	}
	return strings.TrimSpace(string(b))
}

var (
	sqlLinks             = stmt("links")
	sqlStatus            = stmt("status")
	sqlForeignTablesPage = stmt("foreign_tables_page")
	sqlCascadeKeys       = stmt("cascade_keys")
	sqlDescribeDropped   = stmt("describe_dropped")
	sqlSchemaContents    = stmt("schema_contents")
	sqlRemoteTypes       = stmt("remote_types")
	sqlDriftLocal        = stmt("drift_local")
	sqlDriftRemote       = stmt("drift_remote")
)
