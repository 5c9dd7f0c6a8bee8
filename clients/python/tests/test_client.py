"""Tests of the Python client against the real matcherd.

Environment:
  PASSERELLE_MATCHERD    path of the matcherd binary (required; tests are skipped without it)
  PASSERELLE_SOURCE_DIR  the repository (default: three levels above this folder)
  PASSERELLE_PB2_DIR     where the generated *_pb2.py go (default: a temporary directory)

Run with Debian's interpreter (python3-zmq, python3-protobuf):
  PASSERELLE_MATCHERD=build/matcherd PYTHONPATH=clients/python \
      /usr/bin/python3 -m unittest discover -s clients/python/tests -v
"""

import atexit
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
SOURCE_DIR = os.environ.get("PASSERELLE_SOURCE_DIR") or os.path.normpath(os.path.join(PYDIR, "..", ".."))
MATCHERD = os.environ.get("PASSERELLE_MATCHERD")
EXAMPLE = os.path.join(PYDIR, "examples", "school_sync.py")
SAMPLE_CSV = os.path.join(PYDIR, "examples", "graduates.csv")

_TMP = tempfile.mkdtemp(prefix="passerelle-pytest-")
atexit.register(shutil.rmtree, _TMP, True)
os.environ.setdefault("PASSERELLE_SOURCE_DIR", SOURCE_DIR)
os.environ.setdefault("PASSERELLE_PB2_DIR", os.path.join(_TMP, "pb2"))
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

import passerelle  # noqa: E402
from passerelle import feed_pb2, ingest_pb2  # noqa: E402

ACCEPTED = ingest_pb2.ACK_STATUS_ACCEPTED
DUPLICATE = ingest_pb2.ACK_STATUS_DUPLICATE
REJECTED = ingest_pb2.ACK_STATUS_REJECTED

TARBES = (43.2328, 0.0781)
SAINT_NAZAIRE = (47.2735, -2.2138)
T0 = 1782900000000


# --------------------------------------------------------------------------
# The daemon


def free_port():
    """A loopback TCP port free right now (bind-probe)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One matcherd on a temporary store and free loopback ports."""

    def __init__(self, name, config=None):
        self.dir = os.path.join(_TMP, name)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.logpath = os.path.join(self.dir, "matcherd.log")
        self.config = None
        if config:
            self.config = os.path.join(self.dir, "matcherd.conf")
            with open(self.config, "w") as fh:
                fh.write(config)
        self.proc = None
        self.returncode = None

    def start(self, timeout_s=30):
        for attempt in range(3):
            ports = set()
            while len(ports) < 3:
                ports.add(free_port())
            p = sorted(ports)
            self.ingest, self.feed, self.query = ("tcp://127.0.0.1:%d" % x for x in p)
            args = [MATCHERD, "--data", self.data, "--ingest", self.ingest, "--feed", self.feed,
                    "--query", self.query, "--log-level", "info"]
            if self.config:
                args += ["--config", self.config]
            log = open(self.logpath, "ab")
            log.write(b"---- start: %s\n" % " ".join(args).encode())
            log.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir)
            log.close()
            if self._wait_ready(timeout_s):
                return self
            if self.proc.poll() is not None and "in use" in self.log():
                continue  # a port was taken between the probe and the bind
            break
        log = self.log()
        self.stop()
        raise AssertionError("matcherd did not become ready\n---- matcherd log ----\n%s" % log)

    def _wait_ready(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        with self.client(timeout_ms=300) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    h = c.health()
                    if h.live and h.ready:
                        return True
                except passerelle.Timeout:
                    pass
                time.sleep(0.05)
        return False

    def client(self, timeout_ms=5000):
        return passerelle.Client(ingest=self.ingest, feed=self.feed, query=self.query, timeout_ms=timeout_ms)

    def env(self):
        env = dict(os.environ)
        env.update(PASSERELLE_INGEST=self.ingest, PASSERELLE_FEED=self.feed, PASSERELLE_QUERY=self.query)
        return env

    def stop(self, timeout_s=20):
        """SIGTERM, then SIGKILL past the timeout. Returns the exit status."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def log(self, tail=20000):
        try:
            with open(self.logpath, "rb") as fh:
                return fh.read()[-tail:].decode("utf-8", "replace")
        except OSError as e:
            return "(no log: %s)" % e


DAEMON = None


def setUpModule():
    global DAEMON
    if not MATCHERD:
        raise unittest.SkipTest("PASSERELLE_MATCHERD is not set (path of the matcherd binary)")
    if not os.access(MATCHERD, os.X_OK):
        raise AssertionError("PASSERELLE_MATCHERD=%s is not an executable" % MATCHERD)
    DAEMON = Daemon("main").start()


def tearDownModule():
    try:
        if DAEMON is not None:
            rc = DAEMON.stop()
            if rc != 0:
                raise AssertionError("matcherd exited with status %s after SIGTERM\n---- matcherd log ----\n%s"
                                     % (rc, DAEMON.log()))
    finally:
        shutil.rmtree(_TMP, ignore_errors=True)


def shows_daemon_log(fn):
    """On failure, print the daemon's log (stderr) before the traceback."""

    @functools.wraps(fn)
    def wrapper(self, *a, **kw):
        try:
            return fn(self, *a, **kw)
        except unittest.SkipTest:
            raise
        except BaseException:
            for d in [DAEMON] + list(getattr(self, "daemons", [])):
                if d is not None:
                    sys.stderr.write("\n---- matcherd log (%s) ----\n%s\n---- end of log ----\n" % (d.dir, d.log()))
            raise

    return wrapper


# --------------------------------------------------------------------------
# Events


def graduate(gid, school, rncp="RNCP27470", kind="CERTIFICATION_KIND_CAP", commune="65440", point=None,
             radius=40, skills=(), contracts=("CONTRACT_TYPE_CDI",), at=T0, eid=None, source="py-tests"):
    home = {"point": {"latitude": point[0], "longitude": point[1]}} if point else {"communeCode": commune}
    g = {"graduateId": gid, "schoolId": school,
         "certifications": [{"kind": kind, "rncpCode": rncp, "obtainedOn": "2026-06-30"}],
         "home": home, "mobilityRadiusKm": radius, "contractTypes": list(contracts),
         "availableFrom": "2026-09-01", "drivingLicence": True}
    if skills:
        g["skills"] = list(skills)
    return {"eventId": eid or "g-%s-%d" % (gid, at), "source": source, "occurredAtMs": str(at),
            "graduateUpsert": {"graduate": g}}


def vacancy(vid, siret, site=TARBES, rncp=("RNCP27470",), required=(("486590", 2),), at=T0, eid=None,
            sector="SECTOR_METALWORKING", max_km=60, source="py-tests"):
    v = {"vacancyId": vid, "employerId": siret, "sector": sector, "romeCodes": ["H2913"],
         "site": {"point": {"latitude": site[0], "longitude": site[1]}}, "maxDistanceKm": max_km,
         "requiredRncp": list(rncp), "requiredSkills": [{"skill": s, "weight": w} for s, w in required],
         "contractType": "CONTRACT_TYPE_CDI", "positions": 1, "startDate": "2026-09-15", "expiresOn": "2026-12-31"}
    return {"eventId": eid or "v-%s-%d" % (vid, at), "source": source, "occurredAtMs": str(at),
            "vacancyUpsert": {"vacancy": v}}


def withdrawn(gid, school, at, reason="WITHDRAWAL_REASON_HIRED"):
    return {"eventId": "w-%s-%d" % (gid, at), "source": "py-tests", "occurredAtMs": str(at),
            "graduateWithdrawn": {"graduateId": gid, "schoolId": school, "reason": reason}}


def status_names(acks):
    return [ingest_pb2.AckStatus.Name(a.status) for a in acks]


def key(m):
    return (m.rank, m.vacancy_id, m.graduate_id, round(m.score, 6))


# --------------------------------------------------------------------------


class PostTest(unittest.TestCase):
    def setUp(self):
        self.c = DAEMON.client()

    def tearDown(self):
        self.c.close()

    @shows_daemon_log
    def test_accepted_duplicate_rejected(self):
        g = graduate("pt-001", "0310001A", commune="31555")
        acks = self.c.post([g])
        self.assertEqual(status_names(acks), ["ACK_STATUS_ACCEPTED"], acks)
        self.assertEqual(acks[0].event_id, g["eventId"])
        self.assertGreater(acks[0].sequence, 0)

        again = self.c.post([passerelle.to_event(g)])  # an Event message this time
        self.assertEqual(again[0].status, DUPLICATE, again)
        self.assertEqual(again[0].sequence, acks[0].sequence)

        bad = graduate("pt-002", "0310001A", point=(200.0, 1.4))
        older = graduate("pt-001", "0310001A", commune="31555", at=T0 - 1000)
        ok = graduate("pt-003", "0310001A", commune="31555")
        acks = self.c.post([bad, older, ok])
        self.assertEqual(status_names(acks), ["ACK_STATUS_REJECTED", "ACK_STATUS_ACCEPTED", "ACK_STATUS_ACCEPTED"])
        self.assertEqual(acks[0].error, ingest_pb2.ERROR_CODE_OUT_OF_RANGE, acks[0])
        self.assertEqual(acks[0].field, "graduate_upsert.graduate.home.point.latitude")
        self.assertIn("latitude", acks[0].message)
        self.assertTrue(acks[1].superseded, acks[1])
        self.assertFalse(acks[2].superseded)
        self.assertEqual(passerelle.ack_summary(acks), {"accepted": 2, "duplicate": 0, "rejected": 1, "retry": 0})

    @shows_daemon_log
    def test_pipelined_window_keeps_order(self):
        events = [graduate("pw-%03d" % i, "0670001B", commune="67482", radius=5, rncp="RNCP38337",
                           kind="CERTIFICATION_KIND_BAC_PRO") for i in range(300)]
        t = time.monotonic()
        acks = self.c.post(iter(events), window=7)
        self.assertLess(time.monotonic() - t, 60)
        self.assertEqual([a.event_id for a in acks], [e["eventId"] for e in events])
        self.assertEqual({a.status for a in acks}, {ACCEPTED})
        seqs = [a.sequence for a in acks]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), len(seqs))
        acks = self.c.post(events, window=1000)
        self.assertEqual({a.status for a in acks}, {DUPLICATE})

    @shows_daemon_log
    def test_post_jsonl(self):
        import json
        path = os.path.join(_TMP, "events.jsonl")
        with open(path, "w") as fh:
            fh.write("# two graduates\n\n")
            fh.write(json.dumps(graduate("pj-001", "0310002B", commune="31555")) + "\n")
            fh.write(json.dumps(graduate("pj-002", "0310002B", commune="31555")) + "\n")
        acks = self.c.post_jsonl(path)
        self.assertEqual([a.event_id for a in acks], ["g-pj-001-%d" % T0, "g-pj-002-%d" % T0])
        self.assertEqual({a.status for a in acks}, {ACCEPTED})

        before = self.c.stats().events
        with open(path, "w") as fh:
            fh.write(json.dumps(graduate("pj-003", "0310002B", commune="31555")) + "\n")
            fh.write('{"eventId": "x", "nosuchfield": 1}\n')
        with self.assertRaises(ValueError) as cm:
            self.c.post_jsonl(path)
        self.assertIn("events.jsonl:2", str(cm.exception))
        self.assertEqual(self.c.stats().events, before, "nothing is sent when a line is malformed")

    @shows_daemon_log
    def test_timeouts_name_the_endpoint(self):
        port = free_port()
        ep = "tcp://127.0.0.1:%d" % port
        with passerelle.Client(ingest=ep, feed=ep, query=ep, timeout_ms=300) as c:
            for call in (lambda: c.post([graduate("pto-1", "0310003C")]), c.stats, c.health,
                         lambda: c.matches(vacancy_id="x"), lambda: list(c.replay("employer/"))):
                t = time.monotonic()
                with self.assertRaises(passerelle.Timeout) as cm:
                    call()
                self.assertLess(time.monotonic() - t, 5)
                self.assertIn(ep, str(cm.exception))
                self.assertIsInstance(cm.exception, TimeoutError)

    @shows_daemon_log
    def test_stats_and_health(self):
        h = self.c.health()
        self.assertTrue(h.live and h.ready, h)
        self.c.post([graduate("ps-001", "0310004D", commune="31555")])
        s = self.c.stats()
        self.assertTrue(s.version)
        self.assertGreaterEqual(s.events, 1)
        self.assertGreaterEqual(s.graduates, 1)


class MatchesTest(unittest.TestCase):
    def setUp(self):
        self.c = DAEMON.client()

    def tearDown(self):
        self.c.close()

    @shows_daemon_log
    def test_vacancy_ranks_nearby_graduates_with_explanations(self):
        school = "0650099Z"
        ours = ["mt-%d" % i for i in range(1, 4)]
        far = "mt-far"
        acks = self.c.post([
            graduate(ours[0], school, skills=("486590", "106256")),
            graduate(ours[1], school, skills=("486590",), radius=25),
            graduate(ours[2], school),  # no skills: inferred from the certification
            graduate(far, school, commune="59350", radius=30),
            vacancy("mt-v-1", "44000000000017"),
        ])
        self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)

        ms = self.c.matches(vacancy_id="mt-v-1")
        ids = [m.graduate_id for m in ms]
        for g in ours:
            self.assertIn(g, ids)
        self.assertNotIn(far, ids)
        self.assertEqual([m.rank for m in ms], list(range(1, len(ms) + 1)))
        scores = [m.score for m in ms]
        self.assertEqual(scores, sorted(scores, reverse=True))
        for m in ms:
            self.assertEqual(m.vacancy_id, "mt-v-1")
            self.assertEqual(m.employer_id, "44000000000017")
            self.assertTrue(0 < m.score <= 1, m)
            e = m.explanation
            self.assertAlmostEqual(e.skills_share + e.certification_share + e.distance_share + e.start_date_share,
                                   m.score, places=3)
            if m.graduate_id in ours:
                self.assertEqual(m.school_id, school)
                self.assertEqual(e.certification_fit, feed_pb2.CERTIFICATION_FIT_EXACT_RNCP, m)
                self.assertEqual(e.certification_rncp, "RNCP27470")
                self.assertLess(e.distance_km, 10)
        first = next(m for m in ms if m.graduate_id == ours[0])
        self.assertIn("486590", [s.code for s in first.explanation.matched_skills])

        top = self.c.matches(vacancy_id="mt-v-1", limit=1)
        self.assertEqual(len(top), 1)
        self.assertEqual(key(top[0]), key(ms[0]))

        gm = self.c.matches(graduate_id=ours[0])
        self.assertIn("mt-v-1", [m.vacancy_id for m in gm])
        self.assertEqual(self.c.matches(graduate_id=far), [])

    @shows_daemon_log
    def test_errors(self):
        with self.assertRaises(passerelle.NotFound) as cm:
            self.c.matches(vacancy_id="no-such-vacancy")
        self.assertEqual(cm.exception.code, ingest_pb2.ERROR_CODE_NOT_FOUND)
        with self.assertRaises(passerelle.NotFound):
            self.c.matches(graduate_id="no-such-graduate")
        with self.assertRaises(ValueError):
            self.c.matches()
        with self.assertRaises(ValueError):
            self.c.matches(vacancy_id="a", graduate_id="b")


class SubscribeTest(unittest.TestCase):
    def setUp(self):
        self.c = DAEMON.client()

    def tearDown(self):
        self.c.close()

    def read_until_idle(self, sub, idle_ms, max_s=30):
        got = []
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            u = sub.next_update(idle_ms)
            if u is None:
                return got
            got.append(u)
        self.fail("the feed never went quiet")

    def assert_clean(self, updates):
        seqs = [u.sequence for u in updates]
        self.assertEqual(seqs, sorted(set(seqs)), "sequences must be strictly increasing, without duplicates")

    @shows_daemon_log
    def test_catch_up_then_live_rebuilds_the_lists(self):
        siret, other, school = "78000000000019", "78000000000027", "0440001A"
        topic = "employer/" + siret
        acks = self.c.post([
            graduate("sn-1", school, commune="44184", skills=("486590",)),
            graduate("sn-2", school, commune="44184", radius=60),
            vacancy("sn-v-1", siret, site=SAINT_NAZAIRE),
            vacancy("sn-v-9", other, site=SAINT_NAZAIRE),  # other topics interleave their sequence numbers
        ])
        self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)
        stored = [u for _, u in self.c.replay_updates(topic)]
        self.assertGreaterEqual(len(stored), 2)

        sub = self.c.subscribe(topic, from_seq=0)
        got = [sub.next_update(5000) for _ in stored]
        self.assertEqual([u.sequence for u in got], [u.sequence for u in stored])
        self.assertEqual(sub.counts["replayed"], len(stored))
        self.assertIsNone(sub.next_update(300))
        self.assertEqual(sub.counts["live"], 0)

        acks = self.c.post([
            graduate("sn-3", school, commune="44184", skills=("486590", "106256", "102828")),
            vacancy("sn-v-2", siret, site=SAINT_NAZAIRE, required=()),
            vacancy("sn-v-8", other, site=SAINT_NAZAIRE, required=()),
            withdrawn("sn-1", school, T0 + 1000),
        ])
        self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)
        got += self.read_until_idle(sub, 1500)
        sub.close()
        self.assertGreater(sub.counts["live"], 0, sub.counts)
        self.assert_clean(got)
        for u in got:
            self.assertEqual(u.employer_id, siret)
            self.assertEqual(u.side, feed_pb2.LIST_SIDE_VACANCY)
        everything = [u.sequence for _, u in self.c.replay_updates(topic)]
        self.assertEqual([u.sequence for u in got], everything, "no update missing")
        left = [u for u in got if u.kind == feed_pb2.MATCH_KIND_LEFT]
        self.assertIn(("sn-1", feed_pb2.LEFT_REASON_GRADUATE_HIRED), [(u.graduate_id, u.left_reason) for u in left])

        state = passerelle.ListState()
        for u in got:
            state.apply(u)
        self.assertEqual(state.vacancies(), ["sn-v-1", "sn-v-2"])
        for vid in state.vacancies():
            want = [key(m) for m in self.c.matches(vacancy_id=vid)]
            self.assertEqual([key(m) for m in state.vacancy_list(vid)], want, vid)
            self.assertNotIn("sn-1", [m.graduate_id for m in state.vacancy_list(vid)])
            self.assertIn("sn-3", [m.graduate_id for m in state.vacancy_list(vid)])

        # A subscriber that saw up to the middle gets exactly the rest.
        mid = got[len(got) // 2].sequence
        with self.c.subscribe(topic, from_seq=mid, idle_timeout_ms=300) as late:
            rest = list(late)
        self.assertEqual([u.sequence for u in rest], [u.sequence for u in got if u.sequence > mid])

    @shows_daemon_log
    def test_gap_is_repaired_from_the_replay(self):
        siret, school = "79000000000012", "0440002B"
        sub = self.c.subscribe("employer/" + siret, catchup_ms=0)
        self.assertIsNone(sub.next_update(300))
        acks = self.c.post([
            graduate("gp-1", school, commune="44184"),
            graduate("gp-2", school, commune="44184", skills=("486590",)),
            graduate("gp-3", school, commune="44184", radius=80),
            vacancy("gp-v-1", siret, site=SAINT_NAZAIRE),
        ])
        self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)
        # Lose the first live message, as a subscriber past its high-water mark would.
        self.assertTrue(sub._sub.poll(5000), "no live message")
        lost = feed_pb2.MatchUpdate.FromString(sub._sub.recv_multipart()[1])
        got = self.read_until_idle(sub, 1000)
        sub.close()
        self.assert_clean(got)
        self.assertIn(lost.sequence, [u.sequence for u in got], "the lost update is replayed")
        self.assertGreaterEqual(sub.counts["gaps"], 1, sub.counts)
        self.assertGreaterEqual(sub.counts["repaired"], 1, sub.counts)
        self.assertEqual([u.sequence for u in got], [u.sequence for _, u in self.c.replay_updates("employer/" + siret)])

    @shows_daemon_log
    def test_other_topics_numbers_cause_no_replay(self):
        """A subscriber of one employer sees its numbers jump over another employer's updates: no gap replay."""
        siret, other, school = "81000000000015", "81000000000023", "0440004D"
        topic = "employer/" + siret
        head = self.c.stats().match_sequence
        sub = self.c.subscribe(topic, from_seq=head, catchup_ms=0)
        self.assertIsNone(sub.next_update(300))
        events = []
        for i in range(4):
            events.append(vacancy("ot-v-%d" % i, siret, site=SAINT_NAZAIRE))
            for j in range(3):
                events.append(vacancy("ot-w-%d-%d" % (i, j), other, site=SAINT_NAZAIRE))
            events.append(graduate("ot-g-%d" % i, school, commune="44184", skills=("486590",)))
        acks = self.c.post(events)
        self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)
        got = self.read_until_idle(sub, 1000)
        sub.close()
        self.assert_clean(got)
        want = [u.sequence for _, u in self.c.replay_updates(topic, after=head)]
        self.assertEqual([u.sequence for u in got], want)
        jumps = sum(1 for a, b in zip([head] + want, want) if b > a + 1)
        self.assertGreater(jumps, 0, "the other employer's updates must interleave, or this proves nothing")
        self.assertEqual(sub.counts["live"], len(want), sub.counts)
        self.assertEqual(sub.counts["gaps"], 0, sub.counts)

    @shows_daemon_log
    def test_without_previous_sequence_every_jump_is_replayed(self):
        """Updates as an older daemon sends them (no previous_sequence): any jump may hide a loss."""
        topic = "employer/82000000000011"
        head = self.c.stats().match_sequence
        sub = self.c.subscribe(topic, from_seq=head, catchup_ms=0)
        self.assertIsNone(sub.next_update(300))
        sub._on_live(topic, feed_pb2.MatchUpdate(sequence=head + 3))
        self.assertEqual(sub.counts["gaps"], 1, "a jump without previous_sequence is replayed")
        sub._on_live(topic, feed_pb2.MatchUpdate(sequence=head + 4))
        self.assertEqual(sub.counts["gaps"], 1, "no jump, no replay")
        linked = feed_pb2.MatchUpdate(sequence=head + 9)
        linked.previous_sequence[topic] = head + 4
        sub._on_live(topic, linked)
        self.assertEqual(sub.counts["gaps"], 1, "previous_sequence says nothing was lost")
        lost = feed_pb2.MatchUpdate(sequence=head + 12)
        lost.previous_sequence[topic] = head + 11
        sub._on_live(topic, lost)
        self.assertEqual(sub.counts["gaps"], 2, "previous_sequence names an update not received")
        got = [sub.next_update(0) for _ in range(4)]
        sub.close()
        self.assertEqual([u.sequence for u in got], [head + 3, head + 4, head + 9, head + 12])

    @shows_daemon_log
    def test_update_under_two_topics_is_yielded_once(self):
        head = self.c.stats().match_sequence
        sub = self.c.subscribe("", from_seq=head)  # every topic: employer/ and region/ copies both arrive
        self.assertIsNone(sub.next_update(300))
        acks = self.c.post([
            graduate("tt-1", "0440003C", commune="44184"),
            vacancy("tt-v-1", "80000000000018", site=SAINT_NAZAIRE),
        ])
        self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)
        got = self.read_until_idle(sub, 1000)
        sub.close()
        self.assert_clean(got)
        self.assertTrue(got)
        self.assertGreater(sub.counts["dropped"], 0, sub.counts)
        self.assertEqual([u.sequence for u in got], [u.sequence for _, u in self.c.replay_updates("", after=head)])


class ExampleTest(unittest.TestCase):
    def run_example(self, *args, timeout=60):
        r = subprocess.run([sys.executable, EXAMPLE] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=DAEMON.env(), timeout=timeout)
        out, err = r.stdout.decode(), r.stderr.decode()
        return r.returncode, out, err

    @shows_daemon_log
    def test_school_sync_is_idempotent_and_follows(self):
        rc, out, err = self.run_example(SAMPLE_CSV)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("accepted 3, duplicate 0, rejected 0", out)
        rc, out, err = self.run_example(SAMPLE_CSV)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("accepted 0, duplicate 3, rejected 0", out)

        with DAEMON.client() as c:
            head = c.stats().match_sequence
            acks = c.post([vacancy("ex-v-1", "65000000000011", rncp=("RNCP27470", "RNCP38337"), required=())])
            self.assertEqual(acks[0].status, ACCEPTED, acks)
        rc, out, err = self.run_example(SAMPLE_CSV, "--follow", "--from-seq", str(head), "--idle-exit", "1")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("accepted 0, duplicate 3, rejected 0", out)
        for gid in ("0650043X-2026-101", "0650043X-2026-102", "0650043X-2026-103"):
            self.assertRegex(out, r"entered graduate %s <-> vacancy ex-v-1 .*rank \d+ in the graduate's list" % gid)

    @shows_daemon_log
    def test_school_sync_reports_bad_rows(self):
        path = os.path.join(_TMP, "bad.csv")
        with open(SAMPLE_CSV) as fh:
            lines = fh.read().splitlines()
        lines.append("0650043X-2026-199,0650043X,RNCP27470,CAP,3,2026-06-30,65440,5000,CDI,,no,")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        rc, out, err = self.run_example(path)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("rejected 1", out)
        self.assertIn("ERROR_CODE_OUT_OF_RANGE", out)
        self.assertIn("bad.csv:5", out)

        with open(path, "w") as fh:
            fh.write("graduate_id,school_id\nx,y\n")
        rc, out, err = self.run_example(path)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("missing column", err)

        ep = "tcp://127.0.0.1:%d" % free_port()
        rc, out, err = self.run_example(SAMPLE_CSV, "--ingest", ep, "--timeout", "300")
        self.assertEqual(rc, 3, out + err)
        self.assertIn(ep, err)


class PurgedTest(unittest.TestCase):
    """A daemon keeping one feed update: replay and subscribe from 0 say REPLAY_PURGED."""

    @shows_daemon_log
    def test_replay_purged(self):
        d = Daemon("purged", config="[feed]\nretention_max_updates = 1\n")
        self.daemons = [d]
        try:
            d.start()
            with d.client() as c:
                acks = c.post([graduate("pg-1", "0650098Y"), graduate("pg-2", "0650098Y"),
                               vacancy("pg-v-1", "65000000000029")])
                self.assertEqual({a.status for a in acks}, {ACCEPTED}, acks)
                self.assertGreaterEqual(c.stats().match_sequence, 3)
            self.assertEqual(d.stop(), 0)
            d.start()  # retention runs when the daemon starts
            with d.client() as c:
                head = c.stats().match_sequence
                with self.assertRaises(passerelle.ReplayPurged) as cm:
                    list(c.replay("employer/65000000000029", after=0))
                self.assertEqual(cm.exception.head_sequence, head)
                self.assertIn("matches()", str(cm.exception))
                sub = c.subscribe("employer/65000000000029", from_seq=0)
                with self.assertRaises(passerelle.ReplayPurged):
                    sub.next_update(1000)
                sub.close()
                # What the error says to do works: fetch the lists, follow from head.
                self.assertTrue(c.matches(vacancy_id="pg-v-1"))
                with c.subscribe("employer/65000000000029", from_seq=cm.exception.head_sequence) as sub:
                    self.assertIsNone(sub.next_update(300))
            self.assertEqual(d.stop(), 0)
        finally:
            d.stop()


class CurveTest(unittest.TestCase):
    """A daemon in [security] mode = curve: keys, roles, a school's scope."""

    @shows_daemon_log
    def test_curve_client(self):
        import zmq.auth
        base = os.path.join(_TMP, "curve")
        keys, allowed = os.path.join(base, "keys"), os.path.join(base, "clients")
        for d in (keys, allowed):
            os.makedirs(d, exist_ok=True)
        zmq.auth.create_certificates(keys, "server", metadata={"name": "server"})
        zmq.auth.create_certificates(allowed, "school", metadata={"name": "school"})
        with open(os.path.join(base, "roles"), "w") as fh:
            fh.write("school school 0650098Y\n")
        d = Daemon("curve", config="[security]\nmode = curve\nserver_cert = %s\nclients_dir = %s\n"
                   "roles = %s\n" % (os.path.join(keys, "server.key_secret"), allowed,
                                       os.path.join(base, "roles")))
        self.daemons = [d]
        certs = dict(client_cert=os.path.join(allowed, "school.key_secret"),
                     server_cert=os.path.join(keys, "server.key"))
        old = {k: os.environ.get(k) for k in ("PASSERELLE_CLIENT_CERT", "PASSERELLE_SERVER_CERT")}
        os.environ["PASSERELLE_CLIENT_CERT"] = certs["client_cert"]
        os.environ["PASSERELLE_SERVER_CERT"] = certs["server_cert"]
        try:
            d.start()  # its readiness check uses the environment's keys
            with passerelle.Client(ingest=d.ingest, query=d.query, timeout_ms=5000, **certs) as c:
                acks = c.post([graduate("cv-1", "0650098Y"), graduate("cv-2", "0310099Z")])
                self.assertEqual(acks[0].status, ACCEPTED, acks[0])
                self.assertEqual(acks[1].status, REJECTED, acks[1])
                self.assertEqual(acks[1].error, ingest_pb2.ERROR_CODE_FORBIDDEN, acks[1])
            for k in old:
                del os.environ[k]
            with passerelle.Client(query=d.query, timeout_ms=500) as plain:
                with self.assertRaises(passerelle.Timeout):
                    plain.health()
            self.assertEqual(d.stop(), 0)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            d.stop()


if __name__ == "__main__":
    unittest.main()
