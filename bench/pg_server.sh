# bench/pg_server.sh - a private PostgreSQL for the benches, sourced by
# bench/output_postgres.sh and bench/pg_plans.sh (not run on its own).
#
#   pg_dir PREFIX   makes the scratch directory ($tmp), readable by the
#                   postgres user when we run as root
#   pg_start        initdb and start a server in $tmp/data on a free
#                   loopback port (fsync off, as in the test suite); sets
#                   $port and $url
#   pg_stop         stops it (for a cleanup trap; never fails)
#
# Needs: postgresql-15, python3.

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
AS_PG=""
[ "$(id -u)" = 0 ] && AS_PG="runuser -u postgres --"

pg_dir() {
    tmp=$(mktemp -d -t "$1.XXXXXX")
    chmod 755 "$tmp"
    [ -n "$AS_PG" ] && chown postgres:postgres "$tmp"
    return 0
}

pg_start() {
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    $AS_PG "$PGBIN/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 \
        --no-locale --no-sync >/dev/null
    $AS_PG "$PGBIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c shared_buffers=256MB -c max_wal_size=4GB" \
        start >/dev/null
    url="postgresql://postgres@127.0.0.1:$port/postgres"
}

pg_stop() {
    $AS_PG "$PGBIN/pg_ctl" -D "$tmp/data" -m fast stop >/dev/null 2>&1 || true
}
