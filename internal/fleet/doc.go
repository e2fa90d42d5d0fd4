// Package fleet is the set of databases pglinks manages and how it talks
// to them: their config vars and URLs, the pools and the cap on
// connections shared by every domain (links, replication, Heroku Connect),
// transactions that end with their request, the deadlines of every
// database call, and status snapshots with back-off for databases that do
// not answer. It talks pgx and knows nothing of HTTP, HTML or links.
package fleet
