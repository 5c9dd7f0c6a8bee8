#!/usr/bin/python3
"""pg_top20.py - the top-20 query of the national benchmark, answered by
PostgreSQL + PostGIS on the same population as matcherd.

Reads what bench_national --export wrote in DIR (graduates.tsv,
vacancies.tsv: the loaded population as the daemon stores it after
enrichment; ours_top20.tsv: the sample of vacancies queried and matcherd's
answers), loads it into a running PostgreSQL server (run.sh starts a
throw-away cluster), builds the indexes, prepares the statement and runs
the same queries, one at a time on one connection, like bench_ingest's
query phase. Then it compares every answer with matcherd's: same graduate
ids in the same order, scores within 1e-6.

The SQL reproduces matcher/score.c exactly (hard filters, fit levels,
rarity-weighted coverage, distance decay, start-date fit; default weights
0.5 / 0.25 / 0.15 / 0.10, distance scale 30 km, start window 90 days);
see docs/BENCHMARKS.md for why it is written the way it is.

Writes one CSV row (header + values) to --csv and the query plan of one
query (EXPLAIN ANALYZE) to DIR/pg_plan.txt. Exit 0, or 1 on failure.
"""
import argparse
import csv
import os
import sys
import time

import psycopg2

SCHEMA = """
DROP TABLE IF EXISTS graduate, vacancy;
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE TABLE graduate (
  id text COLLATE "C" PRIMARY KEY, has_point boolean NOT NULL,
  lat float8 NOT NULL, lon float8 NOT NULL, radius_km int NOT NULL,
  contracts int NOT NULL, licence boolean NOT NULL, available_from int NOT NULL,
  max_level int NOT NULL, certs text[] NOT NULL, romes text[] NOT NULL,
  skills text[] NOT NULL, geog geography(Point, 4326));
CREATE TABLE vacancy (
  id text COLLATE "C" PRIMARY KEY, open boolean NOT NULL, has_point boolean NOT NULL,
  lat float8 NOT NULL, lon float8 NOT NULL, max_distance_km int NOT NULL,
  contract int NOT NULL, licence_required boolean NOT NULL, min_level int NOT NULL,
  start_date int NOT NULL, rncps text[] NOT NULL, romes text[] NOT NULL,
  adj_romes text[] NOT NULL, skills text[] NOT NULL, weights float8[] NOT NULL,
  total_weight float8 NOT NULL, geog geography(Point, 4326), reach_m float8);
"""

INDEXES = """
UPDATE graduate SET geog = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography;
UPDATE vacancy SET geog = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,
  reach_m = 1000.0 * CASE WHEN max_distance_km > 0
                          THEN least(max_distance_km, (SELECT max(radius_km) FROM graduate))
                          ELSE (SELECT max(radius_km) FROM graduate) END + 100.0;
CREATE INDEX graduate_geog ON graduate USING gist (geog) WHERE has_point;
CREATE INDEX graduate_skills ON graduate USING gin (skills);
CREATE INDEX graduate_certs ON graduate USING gin (certs);
CREATE INDEX graduate_romes ON graduate USING gin (romes);
VACUUM ANALYZE graduate;
VACUUM ANALYZE vacancy;
"""

# The top 20 graduates of one vacancy, as matcher/score.c ranks them:
# higher score (in micro-units, as the daemon stores it) first, then the
# smaller id. The GiST index finds the graduates within reach (a sphere
# distance with a 100 m margin: PostGIS's sphere radius differs from the
# daemon's in the 7th digit), the GIN indexes the relevant ones (a skill in
# common, or a certification of the vacancy's codes, occupation or a
# neighbouring one); the exact haversine distance then filters and scores.
TOP20 = """
PREPARE top20(text) AS
SELECT s.id, s.score FROM (
  SELECT g.id,
         0.5 * (CASE WHEN v.total_weight > 0 THEN cv.covered / v.total_weight ELSE 0 END)
       + 0.25 * (CASE f.fit WHEN 1 THEN 1.0 WHEN 2 THEN 0.8 WHEN 3 THEN 0.5 ELSE 0.3 END)
       + 0.15 * exp(-d.km / 30.0)
       + 0.10 * (CASE WHEN g.available_from = 0 OR v.start_date = 0
                           OR g.available_from <= v.start_date THEN 1.0
                      WHEN g.available_from - v.start_date >= 90 THEN 0.0
                      ELSE 1.0 - (g.available_from - v.start_date) / 90.0 END) AS score
  FROM vacancy v
  JOIN graduate g
    ON ST_DWithin(g.geog, v.geog, v.reach_m, false) AND g.has_point
   AND (g.skills && v.skills OR g.certs && v.rncps OR g.romes && v.romes
        OR g.romes && v.adj_romes)
  CROSS JOIN LATERAL (SELECT 2 * 6371.0088 * asin(sqrt(least(
        sin((v.lat - g.lat) * (pi() / 180) / 2) ^ 2
      + cos(g.lat * (pi() / 180)) * cos(v.lat * (pi() / 180))
        * sin((v.lon - g.lon) * (pi() / 180) / 2) ^ 2, 1))) AS km) d
  CROSS JOIN LATERAL (SELECT CASE WHEN g.certs && v.rncps THEN 1
                                  WHEN g.romes && v.romes THEN 2
                                  WHEN g.romes && v.adj_romes THEN 3
                                  ELSE 0 END AS fit) f
  CROSS JOIN LATERAL (SELECT coalesce(sum(u.w), 0) AS covered
                        FROM unnest(v.skills, v.weights) AS u(sk, w)
                       WHERE u.sk = ANY (g.skills)) cv
  WHERE v.id = $1 AND v.open AND v.has_point
    AND (g.contracts = 0 OR (g.contracts & (1 << v.contract)) <> 0)
    AND (NOT v.licence_required OR g.licence)
    AND d.km <= g.radius_km
    AND (v.max_distance_km = 0 OR d.km <= v.max_distance_km)
    AND (v.min_level = 0 OR g.max_level >= v.min_level)
    AND (f.fit <> 0 OR cardinality(v.rncps) = 0)
    AND (f.fit <> 0 OR g.skills && v.skills)
) s
ORDER BY round(s.score * 1e6) DESC, s.id
LIMIT 20
"""


def pct(v, q):
    if not v:
        return float("nan")
    v = sorted(v)
    k = max(0, -(-int(q * len(v) * 1000000) // 1000000) - 1)
    return v[min(k, len(v) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="bench_national --export directory")
    ap.add_argument("--dsn", required=True, help="libpq connection string")
    ap.add_argument("--csv", required=True, help="write the figures here")
    args = ap.parse_args()

    ours = {}
    order = []
    with open(os.path.join(args.dir, "ours_top20.tsv")) as f:
        for line in f:
            vid, rank, gid, score = line.rstrip("\n").split("\t")
            if vid not in ours:
                ours[vid] = []
                order.append(vid)
            if int(rank) > 0:
                ours[vid].append((gid, float(score)))

    conn = psycopg2.connect(args.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    t0 = time.monotonic()
    cur.execute(SCHEMA)
    for table in ("graduate", "vacancy"):
        cols = {
            "graduate": "id, has_point, lat, lon, radius_km, contracts, licence, "
            "available_from, max_level, certs, romes, skills",
            "vacancy": "id, open, has_point, lat, lon, max_distance_km, contract, "
            "licence_required, min_level, start_date, rncps, romes, adj_romes, skills, "
            "weights, total_weight",
        }[table]
        with open(os.path.join(args.dir, {"graduate": "graduates.tsv", "vacancy": "vacancies.tsv"}[table])) as f:
            cur.copy_expert("COPY %s (%s) FROM STDIN" % (table, cols), f)
    t_load = time.monotonic() - t0
    t0 = time.monotonic()
    for stmt in INDEXES.split(";\n"):
        if stmt.strip():
            cur.execute(stmt)
    t_index = time.monotonic() - t0
    cur.execute("SELECT count(*) FROM graduate")
    n_g = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM vacancy")
    n_v = cur.fetchone()[0]
    cur.execute("SET jit = off")
    cur.execute(TOP20)

    # one warm-up pass over a few queries (PostgreSQL plans a prepared
    # statement generically after five executions), then the timed run
    for vid in order[:6]:
        cur.execute("EXECUTE top20(%s)", (vid,))
        cur.fetchall()
    lat = []
    theirs = {}
    t0 = time.monotonic()
    for vid in order:
        ts = time.monotonic()
        cur.execute("EXECUTE top20(%s)", (vid,))
        rows = cur.fetchall()
        lat.append((time.monotonic() - ts) * 1e6)
        theirs[vid] = [(r[0], float(r[1])) for r in rows]
    wall = time.monotonic() - t0
    if order:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) EXECUTE top20(%s)", (order[0],))
        with open(os.path.join(args.dir, "pg_plan.txt"), "w") as f:
            f.write("\n".join(r[0] for r in cur.fetchall()) + "\n")
    conn.close()

    equal = 0
    diffs = {"length": 0, "ids or order": 0, "score": 0}
    examples = []
    for vid in order:
        a, b = ours[vid], theirs[vid]
        if len(a) != len(b):
            kind = "length"
        elif [x[0] for x in a] != [x[0] for x in b]:
            kind = "ids or order"
        elif any(abs(x[1] - y[1]) > 1e-6 for x, y in zip(a, b)):
            kind = "score"
        else:
            equal += 1
            continue
        diffs[kind] += 1
        if len(examples) < 5:
            examples.append("%s: %s: ours %s / pg %s" % (vid, kind, a[:3], b[:3]))
    for e in examples:
        print("pg_top20: differs: " + e, file=sys.stderr)
    qps = len(order) / wall if wall > 0 else 0
    print("pg_top20: %d graduates, %d vacancies; load %.1f s, indexes %.1f s; %d queries, "
          "%.1f/s, p50 %.0f us, p99 %.0f us; %d of %d answers equal to matcherd's%s"
          % (n_g, n_v, t_load, t_index, len(order), qps, pct(lat, 0.5), pct(lat, 0.99),
             equal, len(order),
             "" if equal == len(order) else " (differ: %s)" % ", ".join(
                 "%d %s" % (n, k) for k, n in diffs.items() if n)), file=sys.stderr)
    with open(args.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["pg_graduates", "pg_vacancies", "pg_load_s", "pg_index_s", "pg_queries",
                     "pg_query_per_s", "pg_query_p50_us", "pg_query_p99_us", "pg_equal",
                     "pg_differ_length", "pg_differ_order", "pg_differ_score"])
        w.writerow([n_g, n_v, "%.1f" % t_load, "%.1f" % t_index, len(order), "%.2f" % qps,
                    "%.0f" % pct(lat, 0.5), "%.0f" % pct(lat, 0.99), equal, diffs["length"],
                    diffs["ids or order"], diffs["score"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
