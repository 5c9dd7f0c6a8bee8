"""Parse `matchctl stats --prometheus` output with the Prometheus client's own
text parser, check the conventions the exposition promises, and print every
sample as one line "name{label=value,...} value" (labels sorted), for the C
test to compare with the events it posted.

Usage: /usr/bin/python3 prom_check.py FILE
Exit 0 when the file parses and follows the conventions, 1 otherwise (the
reasons on stderr).
"""
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(msg):
    print("prom_check: " + msg, file=sys.stderr)
    sys.exit(1)


def check_histogram(fam):
    buckets, total, count = [], None, None
    for s in fam.samples:
        if s.name.endswith("_bucket"):
            buckets.append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_sum"):
            total = s.value
        elif s.name.endswith("_count"):
            count = s.value
    if not buckets or total is None or count is None:
        fail("%s: histogram without buckets, _sum or _count" % fam.name)
    bounds = [b for b, _ in buckets]
    if bounds != sorted(bounds) or not math.isinf(bounds[-1]):
        fail("%s: bucket bounds not increasing to +Inf: %r" % (fam.name, bounds))
    counts = [c for _, c in buckets]
    if counts != sorted(counts):
        fail("%s: bucket counts not cumulative: %r" % (fam.name, counts))
    if counts[-1] != count:
        fail("%s: +Inf bucket %r differs from _count %r" % (fam.name, counts[-1], count))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    declared = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            declared[name] = kind
    families = list(text_string_to_metric_families(text))
    if not families:
        fail("no metric families")
    seen = set()
    for fam in families:
        if not fam.name.startswith("passerelle_"):
            fail("%s: not prefixed passerelle_" % fam.name)
        if not fam.documentation:
            fail("%s: no HELP" % fam.name)
        if fam.type not in ("counter", "gauge", "histogram"):
            fail("%s: type %s" % (fam.name, fam.type))
        if fam.name in seen:
            fail("%s: declared twice" % fam.name)
        seen.add(fam.name)
        if fam.type == "counter":
            # the parser strips _total from the family name; the TYPE line
            # and every sample must carry it
            if declared.get(fam.name + "_total") != "counter":
                fail("%s: counter not named *_total" % fam.name)
            for s in fam.samples:
                if not s.name.endswith("_total"):
                    fail("%s: counter sample %s without _total" % (fam.name, s.name))
        if fam.type == "histogram":
            check_histogram(fam)
        for s in fam.samples:
            labels = ",".join("%s=%s" % (k, s.labels[k]) for k in sorted(s.labels))
            value = s.value
            text_value = "%d" % value if float(value).is_integer() else repr(value)
            print("%s{%s} %s" % (s.name, labels, text_value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
