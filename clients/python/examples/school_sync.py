#!/usr/bin/python3
"""Publish a school's graduates to Passerelle from a CSV export, then optionally follow their matches.

A starting point for a school's IT team. The CSV has one row per graduate
and certification (a graduate holding two certifications takes two rows
with the same graduate_id; the other columns are taken from the first):

    graduate_id, school_id, rncp_code, cert_kind, level, obtained_on,
    commune_code, mobility_radius_km, contract_types, available_from,
    driving_licence, skills

- cert_kind: CAP, BAC_PRO, TITRE_PROFESSIONNEL or OTHER_RNCP (or the full
  enum name, CERTIFICATION_KIND_CAP...);
- level: European level 3..8, empty for the kind's own level;
- contract_types: |-separated CDI, CDD, INTERIM, APPRENTICESHIP,
  PROFESSIONALISATION; empty means any;
- driving_licence: yes/no (also oui/non, true/false, 1/0);
- skills: |-separated ROME competence codes or free labels; optional (the
  daemon infers skills from the certifications when there are none).

Never put a name, e-mail, phone or address in the export: the graduate id
is a pseudonym that only the school can resolve.

Each graduate is posted as a GraduateUpsert whose event id is
"<school_id>:<graduate_id>:<hash of the graduate's data>", so running the
script again on the same export is idempotent (every event is answered
DUPLICATE) and a changed row is posted as a new version. Caveat: reverting a
graduate to exactly an earlier state reuses that state's event id, which the
daemon already knows: post such a change with --revision.

Graduates that disappear from the export are not withdrawn by this script:
send GraduateWithdrawn (hired / left) or GraduateErased events for them.

Usage:
    school_sync.py graduates.csv
    school_sync.py graduates.csv --follow            # then print the school's match updates
    school_sync.py graduates.csv --follow --from-seq 1234 --idle-exit 10

Endpoints: --ingest/--feed/--query, or PASSERELLE_INGEST/FEED/QUERY, or
the loopback defaults. Exit status: 0 every graduate accepted or duplicate,
1 some rejected (or to retry), 2 bad input, 3 matcherd unreachable.
"""

import argparse
import csv
import hashlib
import json
import os
import sys
import time

# Run from a source checkout without installing: clients/python on the path.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import passerelle  # noqa: E402
from passerelle import feed_pb2, ingest_pb2  # noqa: E402

COLUMNS = (
    "graduate_id", "school_id", "rncp_code", "cert_kind", "level", "obtained_on", "commune_code",
    "mobility_radius_km", "contract_types", "available_from", "driving_licence",
)
KINDS = {"CAP", "BAC_PRO", "TITRE_PROFESSIONNEL", "OTHER_RNCP"}
CONTRACTS = {"CDI", "CDD", "INTERIM", "APPRENTICESHIP", "PROFESSIONALISATION"}
TRUE = {"yes", "oui", "true", "1", "y", "o"}
FALSE = {"no", "non", "false", "0", "n", ""}


class InputError(Exception):
    pass


def _split(value):
    return [x.strip() for x in (value or "").split("|") if x.strip()]


def _enum(value, prefix, allowed, where):
    v = value.strip().upper().replace(" ", "_").replace("-", "_")
    if v.startswith(prefix):
        v = v[len(prefix):]
    if v not in allowed:
        raise InputError("%s: %r is not one of %s" % (where, value, ", ".join(sorted(allowed))))
    return prefix + v


def read_graduates(path):
    """Return [(first row number, graduate dict in the protobuf JSON mapping)], in file order."""
    grads = {}
    order = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError("%s: missing column(s): %s" % (path, ", ".join(missing)))
        for row in reader:
            line = reader.line_num
            where = "%s:%d" % (path, line)
            row = {k: (v or "").strip() for k, v in row.items() if k}
            if not any(row.values()):
                continue
            gid, school = row["graduate_id"], row["school_id"]
            if not gid or not school:
                raise InputError("%s: graduate_id and school_id are required" % where)
            cert = {"kind": _enum(row["cert_kind"], "CERTIFICATION_KIND_", KINDS, where + ": cert_kind")}
            if row["rncp_code"]:
                cert["rncpCode"] = row["rncp_code"]
            if row["level"]:
                try:
                    cert["level"] = int(row["level"])
                except ValueError:
                    raise InputError("%s: level %r is not a number" % (where, row["level"])) from None
            if row["obtained_on"]:
                cert["obtainedOn"] = row["obtained_on"]
            if gid in grads:
                g = grads[gid][1]
                if g["schoolId"] != school:
                    raise InputError("%s: graduate %s appears with two schools" % (where, gid))
                g["certifications"].append(cert)
                continue
            try:
                radius = int(row["mobility_radius_km"])
            except ValueError:
                raise InputError("%s: mobility_radius_km %r is not a number" % (where, row["mobility_radius_km"])) from None
            lic = row["driving_licence"].lower()
            if lic not in TRUE | FALSE:
                raise InputError("%s: driving_licence %r is not yes or no" % (where, row["driving_licence"]))
            g = {
                "graduateId": gid,
                "schoolId": school,
                "certifications": [cert],
                "home": {"communeCode": row["commune_code"]},
                "mobilityRadiusKm": radius,
                "contractTypes": [
                    _enum(c, "CONTRACT_TYPE_", CONTRACTS, where + ": contract_types") for c in _split(row["contract_types"])
                ],
                "drivingLicence": lic in TRUE,
            }
            if row["available_from"]:
                g["availableFrom"] = row["available_from"]
            skills = _split(row.get("skills", ""))
            if skills:
                g["skills"] = skills
            grads[gid] = (line, g)
            order.append(gid)
    return [grads[gid] for gid in order]


def event_for(graduate, source, revision, now_ms):
    """A GraduateUpsert event whose id depends only on the graduate's data (and --revision)."""
    canon = json.dumps(graduate, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    h = hashlib.sha256((canon + "\n" + revision).encode("utf-8")).hexdigest()[:16]
    eid = "%s:%s:%s" % (graduate["schoolId"], graduate["graduateId"], h)
    if len(eid) > 128:  # ids are up to 64 bytes each; keep the event id within its 128
        ids = hashlib.sha256((graduate["schoolId"] + "\0" + graduate["graduateId"]).encode()).hexdigest()[:32]
        eid = "g:%s:%s" % (ids, h)
    return {
        "eventId": eid,
        "source": source,
        "occurredAtMs": str(now_ms),
        "graduateUpsert": {"graduate": graduate},
    }


def describe(u):
    kind = feed_pb2.MatchKind.Name(u.kind).replace("MATCH_KIND_", "").lower()
    line = "#%d %s graduate %s <-> vacancy %s (employer %s)" % (
        u.sequence, kind, u.graduate_id or "(erased)", u.vacancy_id, u.employer_id)
    if u.kind == feed_pb2.MATCH_KIND_LEFT:
        return line + " reason %s" % feed_pb2.LeftReason.Name(u.left_reason).replace("LEFT_REASON_", "").lower()
    e = u.explanation
    side = "graduate's" if u.side == feed_pb2.LIST_SIDE_GRADUATE else "vacancy's"
    return line + " rank %d in the %s list, score %.3f, %.1f km, certification %s%s, %d skill(s) matched" % (
        u.rank, side, u.score, e.distance_km,
        feed_pb2.CertificationFit.Name(e.certification_fit).replace("CERTIFICATION_FIT_", "").lower(),
        " (%s)" % e.certification_rncp if e.certification_rncp else "", len(e.matched_skills))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Post a school's graduates from a CSV export to Passerelle.")
    ap.add_argument("csv", help="the CSV export (see the columns in this script's docstring)")
    ap.add_argument("--source", default="school-sync", help="producing system name (default: school-sync)")
    ap.add_argument("--revision", default="", help="mixed into the event ids: set it to re-post unchanged rows as new versions")
    ap.add_argument("--ingest", help="ingest endpoint")
    ap.add_argument("--feed", help="feed endpoint")
    ap.add_argument("--query", help="query endpoint")
    ap.add_argument("--timeout", type=int, default=10000, help="ms to wait for matcherd (default 10000)")
    ap.add_argument("--follow", action="store_true", help="then print the match updates of the school's graduates")
    ap.add_argument("--school", help="the school to follow (default: the one in the CSV)")
    ap.add_argument("--from-seq", type=int, default=0, help="follow from this feed sequence number (default 0: all kept)")
    ap.add_argument("--idle-exit", type=float, default=None, help="with --follow: stop after this many seconds without an update")
    args = ap.parse_args(argv)

    try:
        graduates = read_graduates(args.csv)
    except (OSError, InputError) as e:
        print("school_sync: %s" % e, file=sys.stderr)
        return 2
    now_ms = int(time.time() * 1000)
    events = [event_for(g, args.source, args.revision, now_ms) for _, g in graduates]

    client = passerelle.Client(ingest=args.ingest, feed=args.feed, query=args.query, timeout_ms=args.timeout)
    try:
        try:
            acks = client.post(events)
        except passerelle.Timeout as e:
            print("school_sync: %s" % e, file=sys.stderr)
            return 3
        counts = passerelle.ack_summary(acks)
        print("accepted %d, duplicate %d, rejected %d, retry %d"
              % (counts["accepted"], counts["duplicate"], counts["rejected"], counts["retry"]))
        for (line, g), ack in zip(graduates, acks):
            if ack.status in (ingest_pb2.ACK_STATUS_REJECTED, ingest_pb2.ACK_STATUS_RETRY):
                print("  %s:%d graduate %s: %s %s: %s" % (
                    args.csv, line, g["graduateId"], ingest_pb2.AckStatus.Name(ack.status).replace("ACK_STATUS_", ""),
                    ingest_pb2.ErrorCode.Name(ack.error), ack.message))
        status = 0 if counts["rejected"] == 0 and counts["retry"] == 0 else 1

        if args.follow:
            schools = sorted({g["schoolId"] for _, g in graduates})
            school = args.school or (schools[0] if len(schools) == 1 else None)
            if not school:
                print("school_sync: the CSV has several schools (%s): choose one with --school" % ", ".join(schools),
                      file=sys.stderr)
                return 2
            topic = "school/%s" % school
            idle = None if args.idle_exit is None else int(args.idle_exit * 1000)
            print("following %s from sequence %d" % (topic, args.from_seq), flush=True)
            sub = client.subscribe(topic, from_seq=args.from_seq, idle_timeout_ms=idle)
            try:
                for u in sub:
                    if u.school_id and u.school_id != school:
                        continue  # "school/065" also matches "school/0650043X": keep ours only
                    print(describe(u), flush=True)
            except passerelle.ReplayPurged as e:
                print("school_sync: %s" % e, file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                pass
            print("followed up to sequence %d" % sub.last_sequence)
        return status
    except passerelle.Timeout as e:
        print("school_sync: %s" % e, file=sys.stderr)
        return 3
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
