#!/usr/bin/python3
"""report.py - the national benchmark's table, CSV and plot (run.sh calls it).

Merges DIR/ceiling.csv and, for every size, DIR/<G>x<V>/ours.csv and
pg.csv into DIR/results.csv (one row per size), prints the table (also
written to DIR/table.txt) and draws DIR/bench.png with gnuplot: durable
ingest throughput and the p99 latencies against the population size.
"""
import argparse
import csv
import math
import os
import subprocess
import sys


def num(s):
    s = s.strip()
    if s[-1] in "kK":
        return int(s[:-1]) * 1000
    if s[-1] in "mM":
        return int(s[:-1]) * 1000000
    return int(s)


def read_row(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return rows[0] if rows else {}


def f(row, key, default=float("nan")):
    try:
        return float(row[key])
    except (KeyError, ValueError, TypeError):
        return default


def fmt(x, unit=""):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if unit == "ms":
        return "%.1f" % (x / 1000.0) if x < 100000 else "%.0f" % (x / 1000.0)
    if abs(x) >= 100:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", required=True)
    args = ap.parse_args()

    ceil = read_row(os.path.join(args.out, "ceiling.csv"))
    rows = []
    for size in args.sizes.split(","):
        if "x" in size:
            g, v = (num(x) for x in size.split("x"))
        else:
            g = v = num(size)
        d = os.path.join(args.out, "%dx%d" % (g, v))
        row = {"size": "%dx%d" % (g, v)}
        row.update(read_row(os.path.join(d, "ours.csv")))
        row.update(read_row(os.path.join(d, "pg.csv")))
        row.update(ceil)
        eps = f(row, "ingest_events_per_s")
        row["ingest_fraction_of_lmdb_puts"] = "%.5f" % (eps / f(ceil, "lmdb_puts_per_s"))
        row["ingest_fraction_of_zmq_round_trips"] = "%.5f" % (eps / f(ceil, "zmq_round_trips_per_s"))
        row["ratio_query_per_s_ours_over_pg"] = "%.2f" % (
            f(row, "query_per_s") / f(row, "pg_query_per_s"))
        row["ratio_query_p99_ours_over_pg"] = "%.4f" % (
            f(row, "query_p99_us") / f(row, "pg_query_p99_us"))
        rows.append(row)

    keys = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as fo:
        w = csv.DictWriter(fo, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow(r)

    lines = []
    lines.append("Passerelle national benchmark (medians over repetitions; latencies in ms)")
    lines.append("machine ceilings: LMDB %s puts/s in durable commits of %s (%s commits/s; "
                 "%s commits/s with one put each), ZeroMQ %s pipelined DEALER/ROUTER round "
                 "trips/s on loopback"
                 % (fmt(f(ceil, "lmdb_puts_per_s")), ceil.get("lmdb_batch", "?"),
                    fmt(f(ceil, "lmdb_commits_per_s")), fmt(f(ceil, "lmdb_single_commits_per_s")),
                    fmt(f(ceil, "zmq_round_trips_per_s"))))
    hdr = ["population G x V", "loaded G x V", "load ev/s", "lists/s (build)", "ingest ev/s", "of LMDB",
           "of ZMQ", "ack p50/p99 @25%", "@50%", "@75%", "feed p50/p99",
           "top20 q/s", "top20 p50/p99", "PG q/s", "PG p50/p99", "PG equal",
           "ours/PG q/s", "ours/PG p99", "RSS MiB (own/with map)", "store B/entity"]
    table = []
    for r in rows:
        def pair(a, b):
            return "%s/%s" % (fmt(f(r, a), "ms"), fmt(f(r, b), "ms"))
        table.append([
            r["size"],
            "%s x %s%s" % (r.get("graduates_loaded", "-"), r.get("vacancies_loaded", "-"),
                           "" if r.get("load_complete") == "1" else " PARTIAL"),
            fmt(f(r, "load_events_per_s")) + (" bulk" if r.get("load_mode") == "bulk"
                                               else " socket"),
            (fmt(f(r, "load_lists_per_s")) + " (" + fmt(f(r, "load_lists_s")) + " s)")
            if r.get("load_mode") == "bulk" else "-",
            fmt(f(r, "ingest_events_per_s")),
            "%.2f%%" % (100 * f(r, "ingest_fraction_of_lmdb_puts")),
            "%.3f%%" % (100 * f(r, "ingest_fraction_of_zmq_round_trips")),
            pair("paced25_p50_us", "paced25_p99_us"),
            pair("paced50_p50_us", "paced50_p99_us"),
            pair("paced75_p50_us", "paced75_p99_us"),
            pair("feed_p50_us", "feed_p99_us"),
            fmt(f(r, "query_per_s")),
            pair("query_p50_us", "query_p99_us"),
            fmt(f(r, "pg_query_per_s")),
            pair("pg_query_p50_us", "pg_query_p99_us"),
            "%s/%s" % (r.get("pg_equal", "-"), r.get("pg_queries", "-")),
            "%.3g" % f(r, "ratio_query_per_s_ours_over_pg"),
            "%.3g" % f(r, "ratio_query_p99_ours_over_pg"),
            "%s/%s" % (fmt(f(r, "rss_anon_kb") / 1024), fmt(f(r, "rss_kb") / 1024)),
            fmt(f(r, "store_bytes_per_entity")),
        ])
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(hdr)]
    lines.append("| " + " | ".join(h.ljust(widths[i]) for i, h in enumerate(hdr)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table:
        lines.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(t)) + " |")
    for r in rows:
        if r.get("load_complete") != "1":
            lines.append("%s: loading stopped before the whole population; every "
                         "figure of this row (and PostgreSQL's) is for the %s graduates and %s "
                         "vacancies loaded" % (r["size"], r.get("graduates_loaded"),
                                               r.get("vacancies_loaded")))
    lines.append(
        "columns: load ev/s = first upserts: 'bulk' = matcherd --load (offline, validation and "
        "apply without matching, docs/BULK-LOAD.md), 'socket' = through the daemon, 1 producer; "
        "lists/s (build) = bulk only: the one-pass build of every ranked list after the events "
        "(its seconds); ingest ev/s = durable "
        "mixed updates and new entities, 4 pipelining producers, incremental matching and feed on; "
        "of LMDB / of ZMQ = ingest ev/s as a fraction of the LMDB puts/s and ZeroMQ round trips/s "
        "above; ack p50/p99 @x% = open-loop paced at x% of ingest ev/s, from each event's "
        "scheduled send; feed = event sent -> first MatchUpdate on the employer's topic; top20 = "
        "TopMatchesRequest limit 20 for 500 open vacancies, one at a time; PG = the same queries "
        "in PostgreSQL 15 + PostGIS on the same population; PG equal = answers identical to ours "
        "(ids, order, scores within 1e-6); RSS = VmRSS of matcherd; store B/entity = LMDB data "
        "file / stored entities")
    lines.append("not measured: graduate-side top-20 queries; withdrawals, closures and erasures "
                 "in the ingest mix (see bench_ingest)")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(args.out, "table.txt"), "w") as fo:
        fo.write(text)

    # the plot: x = loaded entities per side (graduates), log scale
    dat = os.path.join(args.out, "plot.dat")
    with open(dat, "w") as fo:
        fo.write("# loaded_graduates ingest_eps ack_p99_50pct_ms feed_p99_ms query_p99_ms "
                 "pg_query_p99_ms query_per_s pg_query_per_s\n")
        for r in rows:
            fo.write("%s %s %s %s %s %s %s %s\n" % (
                r.get("graduates_loaded", "nan"), f(r, "ingest_events_per_s"),
                f(r, "paced50_p99_us") / 1000, f(r, "feed_p99_us") / 1000,
                f(r, "query_p99_us") / 1000, f(r, "pg_query_p99_us") / 1000,
                f(r, "query_per_s"), f(r, "pg_query_per_s")))
    png = os.path.join(args.out, "bench.png")
    gp = """
set terminal pngcairo size 1200,600 font ',10'
set output '%s'
set multiplot layout 1,2 title 'Passerelle matcherd vs PostgreSQL + PostGIS (x: graduates loaded; vacancies as in the table)'
set logscale x
set logscale y
set grid
set key below
set xlabel 'graduates loaded'
set ylabel 'per second'
set title 'throughput'
plot '%s' using 1:2 with linespoints title 'durable ingest events/s (matcherd)', \\
     '' using 1:7 with linespoints title 'top-20 queries/s (matcherd)', \\
     '' using 1:8 with linespoints title 'top-20 queries/s (PostgreSQL)'
set ylabel 'milliseconds'
set title 'p99 latency'
plot '%s' using 1:3 with linespoints title 'ack p99 at 50%% of max ingest', \\
     '' using 1:4 with linespoints title 'event-to-feed p99', \\
     '' using 1:5 with linespoints title 'top-20 query p99 (matcherd)', \\
     '' using 1:6 with linespoints title 'top-20 query p99 (PostgreSQL)'
unset multiplot
""" % (png, dat, dat)
    gpf = os.path.join(args.out, "bench.gp")
    with open(gpf, "w") as fo:
        fo.write(gp)
    try:
        subprocess.run(["gnuplot", gpf], check=True)
        print("plot: %s" % png)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report.py: gnuplot failed: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
