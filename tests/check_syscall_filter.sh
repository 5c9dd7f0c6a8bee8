#!/bin/sh
# Check that every system call matcherd makes is allowed by the unit's
# filter (SystemCallFilter=@system-service, minus @privileged): run it under
# strace through a whole working life (start, subscriptions, a post of the
# demo population, a backup, stats, health, a ranked list, SIGTERM) and
# compare the calls seen with systemd's own expansion of the groups.
# Not part of the default suite (it needs strace and ptrace).
# Usage: tests/check_syscall_filter.sh [BUILD_DIR]   (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
command -v strace >/dev/null || { echo "check_syscall_filter: needs strace (apt-get install strace)"; exit 2; }
tmp=$(mktemp -d /tmp/passerelle-syscalls.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
q="ipc://$tmp/q" i="ipc://$tmp/i" f="ipc://$tmp/f"
# sh records its pid, then becomes matcherd: that is the pid to signal (a
# signal to strace itself would not reach matcherd).
strace -f -qq -o "$tmp/trace" sh -c 'echo $$ >"$1/pid"; shift; exec "$@"' sh "$tmp" \
    "$build/matcherd" --data "$tmp/data" --ingest "$i" --feed "$f" --query "$q" 2>"$tmp/log" &
tracer=$!
n=0
until "$build/matchctl" health --query "$q" --timeout 500 >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -lt 60 ] || { cat "$tmp/log"; exit 1; }
done
timeout 5 "$build/matchctl" subscribe employer/ --feed "$f" --query "$q" --live >/dev/null 2>&1 &
sleep 1
"$build/matchctl" post --ingest "$i" deploy/demo/population.jsonl
"$build/matchctl" post --ingest "$i" deploy/demo/changes.jsonl
"$build/matchctl" backup "$tmp/backup" --query "$q"
"$build/matchctl" stats --prometheus --query "$q" >/dev/null
"$build/matchctl" matches vacancy v-aero-tarbes-soudeur --query "$q" >/dev/null
kill -TERM "$(cat "$tmp/pid")"
wait $tracer
wait
sed -n 's/^[0-9]* *\([a-z_0-9]*\)(.*/\1/p' "$tmp/trace" | sort -u >"$tmp/used"
systemd-analyze syscall-filter 2>/dev/null >"$tmp/groups"
/usr/bin/python3 - "$tmp/groups" "$tmp/used" <<'PY'
import sys
groups, cur = {}, None
for line in open(sys.argv[1]):
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    if line.startswith("@"):
        cur = s
        groups[cur] = []
    elif cur:
        groups[cur].append(s)
def expand(g):
    out = set()
    for m in groups.get(g, []):
        out |= expand(m) if m.startswith("@") else {m}
    return out
used = set(open(sys.argv[2]).read().split())
bad = sorted(used - expand("@system-service")) + sorted(used & expand("@privileged"))
print("%d system calls used; outside @system-service ~@privileged: %s" % (len(used), bad or "none"))
sys.exit(1 if bad else 0)
PY
