// Package compat holds the compatibility suite: every path of pglinks (the
// inventory's cards, create with its pre-flight and enum copy, the foreign
// tables, drift and refresh, import, repair after a rotation, destroy with
// its impact list, Heroku Connect's sync state, replication and each of its
// actions) run against every supported PostgreSQL major as the local side,
// with another major as the remote, through the domain packages as the
// handlers call them. It has tests only; `make test` runs them, and
// `scripts/deps.sh test` fetches the majors Debian does not ship.
package compat
