#!/usr/bin/python3
"""Write the committed seed corpora of the fuzz targets.

corpus/ingest: every event of the demo (deploy/demo/population.jsonl and
changes.jsonl) as the binary Event a producer sends, plus near-valid
variants of some of them (one field out of range, unknown enum, invalid
UTF-8, absurd list, missing id). corpus/query: one Request of each kind
with ordinary and edge values. Run from anywhere:
    /usr/bin/python3 tests/fuzz/make-corpus.py
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
os.environ.setdefault("PASSERELLE_SOURCE_DIR", ROOT)

from google.protobuf import json_format  # noqa: E402
from passerelle import client  # noqa: E402
from passerelle.v1 import ingest_pb2, query_pb2  # noqa: E402


def write(kind, name, data):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def variants(obj):
    """Near-valid copies of one demo event: each breaks one rule."""
    out = []
    g = obj.get("graduateUpsert", {}).get("graduate")
    v = obj.get("vacancyUpsert", {}).get("vacancy")
    if g:
        for name, change in [
            ("radius-5", lambda x: x.update(mobilityRadiusKm=-5)),
            ("level12", lambda x: x["certifications"][0].update(level=12)),
            ("lat200", lambda x: x.update(home={"point": {"latitude": 200, "longitude": 0.1}})),
            ("skills99", lambda x: x.update(skills=["%06d" % (100000 + i) for i in range(99)])),
            ("noid", lambda x: x.update(graduateId="")),
            ("commune-unknown", lambda x: x.update(home={"communeCode": "99999"})),
        ]:
            o = copy.deepcopy(obj)
            change(o["graduateUpsert"]["graduate"])
            out.append((name, o))
    if v:
        for name, change in [
            ("contract99", lambda x: x.update(contractType=99)),
            ("siret-short", lambda x: x.update(employerId="1234")),
            ("romes50", lambda x: x.update(romeCodes=["H%04d" % i for i in range(50)])),
        ]:
            o = copy.deepcopy(obj)
            change(o["vacancyUpsert"]["vacancy"])
            out.append((name, o))
    return out


def main():


    n = 0
    for fname in ("population.jsonl", "changes.jsonl"):
        with open(os.path.join(ROOT, "deploy", "demo", fname)) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                obj = json.loads(line)
                ev = client.to_event(obj)
                write("ingest", obj["eventId"], ev.SerializeToString())
                n += 1
                if n % 6 == 1:
                    for name, o in variants(obj):
                        e = json_format.ParseDict(o, ingest_pb2.Event())
                        write("ingest", "%s-%s" % (obj["eventId"], name), e.SerializeToString())
    bad_utf8 = client.to_event(json.loads(open(os.path.join(
        ROOT, "deploy", "demo", "population.jsonl")).readline())).SerializeToString()
    write("ingest", "utf8-broken", bad_utf8.replace(b"0650043X", b"06\xff\xfe043X"))
    write("ingest", "garbage", b"\x0a\xff\xff\xff\xff\x0f")
    reqs = {
        "stats": {"requestId": "r1", "stats": {}},
        "health": {"requestId": "r2", "health": {}},
        "top-vacancy": {"topMatches": {"vacancyId": "v2", "limit": 5}},
        "top-graduate": {"topMatches": {"graduateId": "g0"}},
        "top-unknown": {"topMatches": {"graduateId": "nobody", "limit": 4000000000}},
        "replay-all": {"replay": {"topicPrefix": "", "afterSequence": "0"}},
        "replay-prefix": {"replay": {"topicPrefix": "employer/", "afterSequence": "3", "limit": 2}},
        "replay-over": {"replay": {"afterSequence": "18446744073709551615", "limit": 10001}},
        "empty": {},
    }
    for name, obj in reqs.items():
        r = json_format.ParseDict(obj, query_pb2.Request())
        write("query", name, r.SerializeToString())
    print("corpus: %d demo events and their variants, %d requests" % (n, len(reqs)))


if __name__ == "__main__":
    main()
