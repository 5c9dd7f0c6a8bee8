#!/bin/sh
# run.sh - the national-scale benchmark of matcherd, in one command.
#
#   tests/bench/run.sh [--sizes 10k,100k,1Mx200k] [--seed N] [--reps 3]
#                      [--out DIR] [--budget S] [--build DIR] [--no-pg] [--smoke]
#                      [--load-mode bulk|socket]
#
# --out DIR (default bench-results/<UTC time>), --build DIR (default
# build-bench, or PASSERELLE_BENCH_BUILD), --no-pg skips PostgreSQL,
# --smoke runs every phase tiny (seconds per size), for checking the chain.
# --load-mode bulk (the default) loads each population offline with
# `matcherd --load` (a delimited file written by bench_national, then the
# daemon started on that store: the whole population at every size);
# --load-mode socket sends it through the ingest socket instead, bounded by
# --budget (a prefix of the population at the largest sizes).
#
# For each size (N per side, or GxV: G graduates, V vacancies; k and M
# suffixes) it runs bench_national (load, top-20 queries, durable ingest
# throughput with pipelining producers, paced ack latency at 25/50/75 % of
# it, event-to-feed latency, RSS and store size), then PostgreSQL 15 +
# PostGIS on the same population with the same query (pg_top20.py, on a
# throw-away cluster started and stopped here), and once per run the
# machine's ceilings (bench_ceiling: LMDB group commits, ZeroMQ round
# trips). Results: DIR/results.csv, DIR/table.txt, DIR/bench.png, and the
# raw per-size files. docs/BENCHMARKS.md explains every figure.
#
# Time is bounded: with --load-mode socket, loading through the daemon stops
# after --budget seconds per size (default 900), so at the largest sizes the
# store (and the PostgreSQL copy) hold a prefix of the population; the table
# says how much was loaded, and with which load. Every other phase has its own count and time limit.
#
# Needs (installed here with apt-get when missing, if run as root):
# gnuplot-nox, postgresql-15, postgresql-15-postgis-3, python3-psycopg2.
# PostgreSQL refuses to run as root: as root, the cluster runs as `nobody`.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
sizes=10k,100k
seed=1
reps=3
out=
budget=900
pg=1
smoke=0
load_mode=bulk
build=${PASSERELLE_BENCH_BUILD:-$repo/build-bench}

usage() {
    sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-pg) pg=0; shift ;;
    --smoke) smoke=1; shift ;;
    --load-mode) load_mode=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || out=$repo/bench-results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
out=$(cd "$out" && pwd)

say() { printf '%s [run.sh] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- dependencies ---------------------------------------------------------
need=
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
if [ "$pg" = 1 ]; then
    [ -x /usr/lib/postgresql/15/bin/initdb ] || need="$need postgresql-15"
    [ -f /usr/share/postgresql/15/extension/postgis.control ] || need="$need postgresql-15-postgis-3"
    /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || need="$need python3-psycopg2"
fi
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
        say "installing$need"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >&2 ||
            { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends $need >&2; }
    else
        echo "run.sh: missing Debian packages:$need (apt-get install them, or run as root)" >&2
        exit 1
    fi
fi

# --- build ----------------------------------------------------------------
if [ -z "${PASSERELLE_BENCH_NO_BUILD:-}" ]; then
    say "building in $build (RelWithDebInfo)"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j2 --target matcherd bench_national bench_ceiling >/dev/null
fi
export PASSERELLE_MATCHERD=$build/matcherd
bn=$build/tests/bench_national
bc=$build/tests/bench_ceiling

# --- PostgreSQL: a throw-away cluster on loopback ---------------------------
pgbin=/usr/lib/postgresql/15/bin
pgdir=
pgport=
pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}
pg_start() {
    pgdir=$(mktemp -d /tmp/passerelle-bench-pg.XXXXXX)
    chmod 755 "$pgdir"
    [ "$(id -u)" = 0 ] && chown nobody "$pgdir"
    pgport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    pg_as "$pgbin/initdb" -D "$pgdir/data" -U bench --auth=trust -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 ||
        { cat "$pgdir/initdb.log" >&2; return 1; }
    # a sensible configuration for this machine: shared buffers big enough
    # to hold the tables and indexes, no JIT (it only slows short queries)
    pg_as "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -o \
        "-c listen_addresses=127.0.0.1 -p $pgport -k $pgdir -c shared_buffers=2GB -c work_mem=64MB -c maintenance_work_mem=1GB -c effective_cache_size=8GB -c jit=off -c max_wal_size=8GB" \
        start >/dev/null || { cat "$pgdir/server.log" >&2; return 1; }
}
pg_stop() {
    if [ -n "$pgdir" ]; then
        pg_as "$pgbin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$pgdir"
        pgdir=
    fi
}
# stopped by a signal: stop there (the EXIT trap removes the cluster)
trap pg_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- sizes ----------------------------------------------------------------
num() { # 10k -> 10000, 1M -> 1000000
    case $1 in
    *k|*K) echo $(( ${1%?} * 1000 )) ;;
    *m|*M) echo $(( ${1%?} * 1000000 )) ;;
    *) echo "$1" ;;
    esac
}

say "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$smoke" = 1 ]; then
    ceil_s=0.5
else
    ceil_s=5
fi
say "ceilings: LMDB group commits and ZeroMQ round trips ($ceil_s s each)"
"$bc" --seconds "$ceil_s" >"$out/ceiling.csv"

for size in $(echo "$sizes" | tr ',' ' '); do
    case $size in
    *x*) g=$(num "${size%x*}"); v=$(num "${size#*x}") ;;
    *) g=$(num "$size"); v=$g ;;
    esac
    d=$out/${g}x${v}
    mkdir -p "$d"
    if [ "$smoke" = 1 ]; then
        args="--reps 1 --events 300 --paced-seconds 0.5 --queries 20 --feed-samples 5 --load-budget 20 --phase-budget 5"
    else
        args="--reps $reps --load-budget $budget"
    fi
    say "size ${g} graduates x ${v} vacancies: matcherd"
    # shellcheck disable=SC2086
    "$bn" --graduates "$g" --vacancies "$v" --seed "$seed" --export "$d" --csv "$d/ours.csv" \
        --load-mode "$load_mode" $args 2>&1 | tee "$d/bench_national.log" >&2
    if [ "$pg" = 1 ]; then
        say "size ${g} x ${v}: PostgreSQL + PostGIS on the same population"
        pg_start
        /usr/bin/python3 "$here/pg_top20.py" --dir "$d" --csv "$d/pg.csv" \
            --dsn "host=127.0.0.1 port=$pgport user=bench dbname=postgres" 2>&1 |
            tee "$d/pg.log" >&2
        pg_stop
    fi
    rm -f "$d/graduates.tsv" "$d/vacancies.tsv"
done

/usr/bin/python3 "$here/report.py" --out "$out" --sizes "$sizes"
say "results in $out"
