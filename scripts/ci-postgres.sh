#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the history-store contract tests (tests/store).
#
#   eval "$(bash scripts/ci-postgres.sh)"        # install if missing, start, print the export line
#   bash scripts/ci-postgres.sh stop             # stop it (the data directory is left for the next start)
#   bash scripts/ci-postgres.sh destroy          # stop it and delete its data directory
#
# Idempotent: run it again and it reuses the running server. Everything but the final
# `export PROFILESYNC_TEST_POSTGRES_URL=...` line goes to stderr, so `eval` sees only that.
# Installing needs root (Debian, apt-get); a developer with PostgreSQL installed can run it as themselves.
set -euo pipefail

# Below the kernel's ephemeral range (32768-60999 on Linux), so a test's loopback connection never holds it.
PORT="${PROFILESYNC_PG_PORT:-25432}"
DATA="${PROFILESYNC_PG_DATA:-${TMPDIR:-/tmp}/profilesync-ci-postgres}"
DB_USER=profilesync
DB_PASSWORD=profilesync  # a loopback-only, throwaway server: this is not a secret
DB_NAME=profilesync_test
ACTION="${1:-start}"

say() { echo "ci-postgres: $*" >&2; }

# The server binaries: on PATH, or in Debian's versioned directory (not on PATH by default).
find_bindir() {
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
        echo "$dir"
    fi
}

install_postgres() {
    if [[ "$(id -u)" != 0 ]]; then
        say "PostgreSQL server binaries not found and not root: install the 'postgresql' package first"
        exit 1
    fi
    say "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
}

# initdb and the server refuse to run as root: as root, act as the 'postgres' system user.
as_owner() {
    if [[ "$(id -u)" != 0 ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
}

BINDIR="$(find_bindir)"
if [[ "$ACTION" == stop || "$ACTION" == destroy ]]; then
    if [[ -n "$BINDIR" && -f "$DATA/postmaster.pid" ]]; then
        as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
    fi
    if [[ "$ACTION" == destroy ]]; then
        rm -rf "$DATA"
        say "removed $DATA"
    fi
    exit 0
elif [[ "$ACTION" != start ]]; then
    say "usage: $0 [start|stop|destroy]"
    exit 2
fi

if [[ -z "$BINDIR" ]]; then
    install_postgres
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || { say "PostgreSQL installed but pg_ctl not found"; exit 1; }
fi
if [[ "$(id -u)" == 0 ]] && ! id -u postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
fi

if [[ ! -f "$DATA/PG_VERSION" ]]; then
    say "creating a cluster in $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [[ "$(id -u)" != 0 ]] || chown postgres: "$DATA"
    chmod 700 "$DATA"
    # Local socket connections (the admin steps below) trust; TCP needs the password.
    as_owner "$BINDIR/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --no-locale >&2
    # Loopback only, its own socket directory, and no durability: the data is thrown away anyway.
    cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

if as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "server already running on 127.0.0.1:$PORT"
else
    say "starting the server on 127.0.0.1:$PORT"
    if ! as_owner "$BINDIR/pg_ctl" -D "$DATA" -o "-p $PORT" -l "$DATA/server.log" -w -t 60 start >&2; then
        tail -n 20 "$DATA/server.log" >&2 || true
        exit 1
    fi
fi

psql_admin() {
    as_owner "$BINDIR/psql" -h "$DATA" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}
if [[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]]; then
    psql_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" >&2
fi
if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]]; then
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" >&2
fi

say "ready; stop it with: bash $0 stop"
echo "export PROFILESYNC_TEST_POSTGRES_URL=postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:$PORT/$DB_NAME"
