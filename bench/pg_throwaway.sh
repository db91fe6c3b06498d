#!/bin/sh
# A throwaway PostgreSQL for the scale benchmarks, in /tmp, on its own port (fsync on).
#
#   bench/pg_throwaway.sh start [DIR] [PORT]   # default /tmp/isoguard-pg 54400
#   bench/pg_throwaway.sh db NAME [DIR] [PORT] # create and migrate database NAME; prints its URL
#   bench/pg_throwaway.sh stop [DIR]
#
# The settings used for docs/benchmarks.md: shared_buffers 1GB, work_mem 16MB,
# maintenance_work_mem 512MB, fsync and synchronous_commit on (the defaults otherwise).
# As root, the server runs as the `postgres` user (initdb refuses root).
set -eu
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cmd=${1:-}
case "$cmd" in
start)
    DIR=${2:-/tmp/isoguard-pg}; PORT=${3:-54400}
    mkdir -p "$DIR"
    as() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$DIR"; su postgres -c "$*"; else sh -c "$*"; fi; }
    as "$PGBIN/initdb -D $DIR/data -U isoguard --auth=trust -E UTF8" >/dev/null
    cat >>"$DIR/data/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
shared_buffers = 1GB
work_mem = 16MB
maintenance_work_mem = 512MB
fsync = on
synchronous_commit = on
EOF
    as "$PGBIN/pg_ctl -D $DIR/data -l $DIR/pg.log -w start" >/dev/null
    echo "postgres://isoguard@127.0.0.1:$PORT/"
    ;;
db)
    NAME=$2; DIR=${3:-/tmp/isoguard-pg}; PORT=${4:-54400}
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U isoguard "$NAME"
    URL="postgres://isoguard@127.0.0.1:$PORT/$NAME"
    DATABASE_URL=$URL ISOGUARD_VAR_DIR=${ISOGUARD_VAR_DIR:-/tmp/isoguard-bench-var} \
        "$(dirname "$0")/../.venv/bin/isoguard" migrate --noinput >/dev/null
    echo "$URL"
    ;;
stop)
    DIR=${2:-/tmp/isoguard-pg}
    if [ "$(id -u)" = 0 ]; then su postgres -c "$PGBIN/pg_ctl -D $DIR/data stop"; else "$PGBIN/pg_ctl" -D "$DIR/data" stop; fi
    ;;
*)
    sed -n '2,10p' "$0"; exit 2
    ;;
esac
