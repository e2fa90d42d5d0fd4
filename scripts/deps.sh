#!/usr/bin/env bash
# Installs what `make demo` and `make test` need on a Debian machine that has Go.
#
#   scripts/deps.sh demo   PostgreSQL server binaries (Debian "postgresql"),
#                          redis-server, and the Redis foreign data wrapper
#                          ext/pglinks_redis built from source and installed
#                          into that PostgreSQL (`make ext`: its headers,
#                          hiredis, OpenSSL, a C compiler and make)
#   scripts/deps.sh test   the above, Debian "chromium" (plus a font), Node.js,
#                          gcc (for -race) and the playwright driver in
#                          .cache/playwright-driver
#
# Idempotent and non-interactive: it checks what is missing first and only
# then runs apt-get (update once, install once), with sudo when not root.
# It never downloads a browser: the e2e tests drive Debian's chromium through
# playwright-core from npm, unpacked as the driver playwright-go expects
# (<dir>/node and <dir>/package/cli.js).
set -euo pipefail

# The playwright driver version must be exactly the one playwright-go (go.mod)
# was built for: playwright-go v0.AABB.x wants playwright-core 1.AA.BB.
PLAYWRIGHT_CORE_VERSION=1.52.0
PLAYWRIGHT_CORE_INTEGRITY=sha512-l2osTgLXSMeuLZOML9qYODUQoPPnUsKsb5/P6LJ2e6uPKXUdPK5WYhN4z03G+YNbWmGDY4YENauNu4ZKczreHg==

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIVER_DIR="$ROOT/.cache/playwright-driver"

log() { printf 'deps: %s\n' "$*" >&2; }
die() {
	printf 'deps: error: %s\n' "$*" >&2
	exit 1
}

usage() { die "usage: $0 demo|test"; }
[ $# -eq 1 ] || usage
mode=$1
case $mode in demo | test) ;; *) usage ;; esac

# --- Debian packages ---------------------------------------------------------

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()

# PostgreSQL server binaries (initdb, pg_ctl, postgres; postgres_fdw is part of
# the server package). The package also creates the "postgres" OS user that
# internal/pgtest runs them as when we are root. Installing it may start a
# system cluster on machines with systemd; nothing here uses or needs it.
have_postgres() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
	done
	return 1
}
if ! have_postgres || ! id postgres >/dev/null 2>&1; then
	missing+=(postgresql)
fi

# The Redis foreign data wrapper is compiled against the newest installed
# PostgreSQL (internal/pgtest runs that one), or Debian 12's default major when
# none is installed yet. Installing the headers may upgrade the server package
# to the same minor version; nothing else changes. redis-server is started by
# the demo and the tests on ports of their own; on a machine with systemd the
# package also starts a system Redis on 6379, which nothing here uses.
pg_major() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	if [ -n "$d" ]; then basename "$(dirname "$d")"; else echo 15; fi
}
installed "postgresql-server-dev-$(pg_major)" || missing+=("postgresql-server-dev-$(pg_major)")
installed libhiredis-dev || missing+=(libhiredis-dev)
installed libssl-dev || missing+=(libssl-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)

if [ "$mode" = test ]; then
	if [ ! -x /usr/bin/chromium ] && [ ! -x /usr/lib/chromium/chromium ]; then
		missing+=(chromium)
	fi
	# Chromium depends on no font package; without one, pages render as boxes.
	if ! installed fonts-liberation && ! installed fonts-dejavu-core; then
		missing+=(fonts-liberation)
	fi
	# Node runs the playwright driver; npm fetches it (and Tailwind for `make css`).
	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
fi
# `go test -race` needs cgo, and the Redis wrapper is C: a compiler and libc
# headers in both modes.
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
installed libc6-dev || missing+=(libc6-dev)

if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: install them by hand"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]}: run as root or install sudo"
		sudo=(sudo)
	fi
	log "installing Debian packages: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	log "Debian packages for '$mode': all present"
fi

have_postgres || die "PostgreSQL server binaries still not found under /usr/lib/postgresql/*/bin"

# Builds only what changed and installs only what differs from the installed
# files (with sudo when not root), so a second run does nothing.
make -C "$ROOT" --no-print-directory ext

[ "$mode" = test ] || exit 0

# --- playwright driver ---------------------------------------------------------

# Check the pin against go.mod so a playwright-go upgrade cannot silently run
# against the wrong driver.
pwgo=$(awk '$1 == "github.com/playwright-community/playwright-go" { print $2 }' "$ROOT/go.mod" | head -n1)
if [ -n "$pwgo" ]; then
	n=${pwgo#v0.}
	n=${n%%.*}
	if [[ $n =~ ^[0-9]{3,4}$ ]]; then
		want="1.$((10#${n:0:${#n}-2})).$((10#${n: -2}))"
		[ "$want" = "$PLAYWRIGHT_CORE_VERSION" ] ||
			die "go.mod has playwright-go $pwgo, which wants playwright-core $want; update PLAYWRIGHT_CORE_VERSION (and _INTEGRITY) in $0"
	fi
fi

node_bin=${PLAYWRIGHT_NODEJS_PATH:-$(command -v node)}
[ -x "$node_bin" ] || die "node not found (looked for ${node_bin:-node})"

driver_version() {
	[ -f "$DRIVER_DIR/package/cli.js" ] || return 0
	"$node_bin" -p "require(process.argv[1]).version" "$DRIVER_DIR/package/package.json" 2>/dev/null || true
}

if [ "$(driver_version)" = "$PLAYWRIGHT_CORE_VERSION" ] && [ -x "$DRIVER_DIR/node" ]; then
	log "playwright driver $PLAYWRIGHT_CORE_VERSION: present in ${DRIVER_DIR#"$ROOT"/}"
	exit 0
fi

log "fetching playwright-core@$PLAYWRIGHT_CORE_VERSION from npm into ${DRIVER_DIR#"$ROOT"/}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Run npm outside the repo so the project's package.json plays no part.
tgz=$(cd "$tmp" && npm pack --silent "playwright-core@$PLAYWRIGHT_CORE_VERSION" | tail -n1)
[ -f "$tmp/$tgz" ] || die "npm pack did not produce a tarball (got '$tgz')"
# npm verifies the registry's checksum; this also pins it, so a republished or
# substituted tarball is refused.
got=$("$node_bin" -e '
	const data = require("fs").readFileSync(process.argv[1]);
	console.log("sha512-" + require("crypto").createHash("sha512").update(data).digest("base64"));
' "$tmp/$tgz")
[ "$got" = "$PLAYWRIGHT_CORE_INTEGRITY" ] || die "playwright-core tarball checksum mismatch: got $got"

mkdir -p "$tmp/driver"
tar -xzf "$tmp/$tgz" -C "$tmp/driver" # unpacks to package/
ln -s "$node_bin" "$tmp/driver/node"
mkdir -p "$(dirname "$DRIVER_DIR")"
rm -rf "$DRIVER_DIR"
mv "$tmp/driver" "$DRIVER_DIR"

[ "$(driver_version)" = "$PLAYWRIGHT_CORE_VERSION" ] || die "driver in $DRIVER_DIR does not report $PLAYWRIGHT_CORE_VERSION"
log "playwright driver $PLAYWRIGHT_CORE_VERSION: installed ($("$DRIVER_DIR/node" "$DRIVER_DIR/package/cli.js" --version))"
