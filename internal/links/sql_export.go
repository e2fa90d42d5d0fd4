package links

// CatalogSQL returns the embedded catalog statement sql/<name>.sql (for
// example "links" or "foreign_tables_page"), so tools such as the benchmark
// harness can run exactly what pglinks runs. It panics on an unknown name.
func CatalogSQL(name string) string { return stmt(name) }
