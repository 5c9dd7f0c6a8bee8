"""Client of matcherd: post events, query matches, follow the match feed.

Sockets (see the repository README):

- ingest: matcherd binds a ROUTER; we use a DEALER and send one frame,
  [Event], per event; one frame, [Ack], comes back per event, in order.
- feed: matcherd binds an XPUB; we use a SUB and receive [topic][MatchUpdate].
- query: matcherd binds a ROUTER; we use a DEALER, [Request] -> [Response].

Every wait is bounded by ``timeout_ms``; a timeout raises :class:`Timeout`
naming the endpoint.
"""

import collections
import itertools
import json
import os
import re
import sys
import time

import zmq
from google.protobuf import json_format

from .v1 import feed_pb2, ingest_pb2, query_pb2

DEFAULT_INGEST = "tcp://127.0.0.1:7401"
DEFAULT_FEED = "tcp://127.0.0.1:7402"
DEFAULT_QUERY = "tcp://127.0.0.1:7403"

_ERR = ingest_pb2.ErrorCode
_STATUS = ingest_pb2.AckStatus


# --------------------------------------------------------------------------
# Errors


class PasserelleError(Exception):
    """Base class of the errors of this client."""


class Timeout(PasserelleError, TimeoutError):
    """The daemon did not answer in time (or is not running)."""

    def __init__(self, endpoint, what, timeout_ms):
        self.endpoint = endpoint
        self.timeout_ms = timeout_ms
        super().__init__(
            "%s: no answer from matcherd at %s within %d ms (is matcherd running on that endpoint?)"
            % (what, endpoint, timeout_ms)
        )


class ProtocolError(PasserelleError):
    """The daemon answered something this client does not expect."""


class QueryError(PasserelleError):
    """The query socket answered with an error code."""

    def __init__(self, code, message, endpoint=None):
        self.code = code
        self.code_name = _ERR.Name(code) if code in _ERR.values() else str(code)
        self.message = message
        self.endpoint = endpoint
        super().__init__("%s: %s%s" % (self.code_name, message, " (%s)" % endpoint if endpoint else ""))


class NotFound(QueryError, LookupError):
    """ERROR_CODE_NOT_FOUND: no such vacancy or graduate."""


class ReplayPurged(QueryError):
    """ERROR_CODE_REPLAY_PURGED: the updates asked for were purged.

    The caller must re-fetch the current lists (``Client.matches``) and then
    follow the feed from ``head_sequence`` (``subscribe(topic,
    from_seq=e.head_sequence)``), which the daemon sends in
    ``Response.replay.head_sequence``. ``purged_upto`` is the last purged
    sequence number, read from the daemon's message (None if absent).
    """

    def __init__(self, code, message, endpoint=None, after=None, head_sequence=None):
        super().__init__(code, message, endpoint)
        self.after = after
        m = re.search(r"up to (\d+)", message or "")
        self.purged_upto = int(m.group(1)) if m else None
        self.head_sequence = head_sequence
        self.args = (
            "%s (replay after %s): the feed updates asked for are gone; re-fetch the current lists "
            "with matches(), then subscribe again with from_seq=%s"
            % (str(self), after, self.head_sequence if self.head_sequence is not None else "<head>"),
        )


# --------------------------------------------------------------------------
# Events


def to_event(obj):
    """Return an Event from an Event, a dict in the protobuf JSON mapping, or a JSON string."""
    if isinstance(obj, ingest_pb2.Event):
        return obj
    if isinstance(obj, (bytes, bytearray)):
        return ingest_pb2.Event.FromString(bytes(obj))
    if isinstance(obj, str):
        obj = json.loads(obj)
    if isinstance(obj, dict):
        return json_format.ParseDict(obj, ingest_pb2.Event())
    raise TypeError("an event must be a passerelle.v1.Event, a dict or a JSON string, not %s" % type(obj).__name__)


def ack_summary(acks):
    """Count acks by status: {'accepted': n, 'duplicate': n, 'rejected': n, 'retry': n}."""
    out = {"accepted": 0, "duplicate": 0, "rejected": 0, "retry": 0}
    for a in acks:
        name = _STATUS.Name(a.status).replace("ACK_STATUS_", "").lower() if a.status in _STATUS.values() else "?"
        out[name] = out.get(name, 0) + 1
    return out


def _read_jsonl(path):
    """Parse a JSON-lines file of events; blank lines and '#' comments skipped."""
    fh = sys.stdin if path == "-" else open(path, "r", encoding="utf-8")
    events = []
    try:
        for n, line in enumerate(fh, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            try:
                events.append(json_format.ParseDict(json.loads(s), ingest_pb2.Event()))
            except (ValueError, json_format.ParseError) as e:
                raise ValueError("%s:%d: not a passerelle.v1.Event: %s" % (path, n, e)) from e
    finally:
        if fh is not sys.stdin:
            fh.close()
    return events


# --------------------------------------------------------------------------
# The client


def _curve_keys(client_cert, server_cert):
    """(public, secret, server public) from czmq certificate files, or None."""
    if not client_cert and not server_cert:
        return None
    if not client_cert or not server_cert:
        raise PasserelleError("CurveZMQ needs both a client certificate (with its secret key) "
                              "and the server's public certificate")
    import zmq.auth  # reads the ZPL certificate files that czmq and matchctl keygen write
    public, secret = zmq.auth.load_certificate(client_cert)
    server, _ = zmq.auth.load_certificate(server_cert)
    if not secret:
        raise PasserelleError("%s holds no secret key: give the NAME_secret file" % client_cert)
    return public, secret, server


class Client:
    """A connection to one matcherd.

    Endpoints default to the environment (PASSERELLE_INGEST, PASSERELLE_FEED,
    PASSERELLE_QUERY) and then to the loopback defaults. Sockets are opened
    lazily. Not thread-safe: use one Client per thread.

    CurveZMQ (a daemon with [security] mode = curve): client_cert is this
    client's certificate with its secret key (the NAME_secret file written by
    `matchctl keygen NAME`), server_cert the daemon's public certificate;
    they default to PASSERELLE_CLIENT_CERT and PASSERELLE_SERVER_CERT. With
    both set every socket encrypts and authenticates; with neither, none does.
    """

    def __init__(self, ingest=None, feed=None, query=None, timeout_ms=5000, context=None,
                 client_cert=None, server_cert=None):
        self.ingest = ingest or os.environ.get("PASSERELLE_INGEST") or DEFAULT_INGEST
        self.feed = feed or os.environ.get("PASSERELLE_FEED") or DEFAULT_FEED
        self.query = query or os.environ.get("PASSERELLE_QUERY") or DEFAULT_QUERY
        self._curve = _curve_keys(client_cert or os.environ.get("PASSERELLE_CLIENT_CERT"),
                                  server_cert or os.environ.get("PASSERELLE_SERVER_CERT"))
        self.timeout_ms = int(timeout_ms)
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        self._ingest_sock = None
        self._query_sock = None
        self._rid = itertools.count(1)
        self._rid_prefix = "py-%d-%x" % (os.getpid(), id(self) & 0xFFFFFF)
        self._subs = []

    # -- lifecycle --

    def close(self):
        for s in list(self._subs):
            s.close()
        for name in ("_ingest_sock", "_query_sock"):
            s = getattr(self, name)
            if s is not None:
                s.close(linger=0)
                setattr(self, name, None)
        if self._own_ctx and self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _socket(self, kind, endpoint):
        if self._ctx is None:
            raise PasserelleError("the client is closed")
        s = self._ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if self._curve:
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = self._curve
        s.connect(endpoint)
        return s

    def _ingest(self):
        if self._ingest_sock is None:
            s = self._socket(zmq.DEALER, self.ingest)
            s.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
            s.setsockopt(zmq.SNDHWM, 0)  # post() bounds what is in flight by its window
            s.setsockopt(zmq.RCVHWM, 0)
            self._ingest_sock = s
        return self._ingest_sock

    def _reset_ingest(self):
        # After a timeout acks may still be on their way: a new socket keeps
        # them from being taken for the acks of later events.
        if self._ingest_sock is not None:
            self._ingest_sock.close(linger=0)
            self._ingest_sock = None

    def _query(self):
        if self._query_sock is None:
            s = self._socket(zmq.DEALER, self.query)
            s.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
            self._query_sock = s
        return self._query_sock

    # -- ingest --

    def post(self, events, window=256):
        """Send events, at most `window` unacknowledged at a time; return their Acks in order.

        `events` is an iterable of Event messages, dicts in the protobuf JSON
        mapping (camelCase or .proto field names, enums by name) or JSON
        strings. Rejected events are not exceptions: look at each Ack's
        status, error, field and message (``ack_summary`` counts them). An
        Ack with status RETRY means "send it again later".

        Raises Timeout if no ack arrives for `timeout_ms`, ValueError if an
        event cannot be converted (nothing after it is sent).
        """
        if window < 1:
            raise ValueError("window must be at least 1")
        sock = self._ingest()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        acks = []
        inflight = collections.deque()
        it = iter(events)
        index = 0
        exhausted = False
        deadline = time.monotonic() + self.timeout_ms / 1000.0
        try:
            while True:
                while not exhausted and len(inflight) < window:
                    try:
                        obj = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    try:
                        ev = to_event(obj)
                    except (ValueError, TypeError, json_format.ParseError) as e:
                        raise ValueError("event #%d: %s" % (index, e)) from e
                    try:
                        sock.send(ev.SerializeToString())
                    except zmq.Again:
                        raise Timeout(self.ingest, "post (send)", self.timeout_ms) from None
                    inflight.append(ev.event_id)
                    index += 1
                if not inflight:
                    return acks
                left = deadline - time.monotonic()
                if left <= 0 or not poller.poll(max(1, int(left * 1000))):
                    raise Timeout(
                        self.ingest,
                        "post (%d of %d sent events acknowledged)" % (len(acks), len(acks) + len(inflight)),
                        self.timeout_ms,
                    )
                frames = sock.recv_multipart()
                if len(frames) != 1:
                    raise ProtocolError("ingest %s: an ack of %d frames (expected 1)" % (self.ingest, len(frames)))
                ack = ingest_pb2.Ack.FromString(frames[0])
                expected = inflight.popleft()
                if ack.event_id and ack.event_id != expected:
                    raise ProtocolError(
                        "ingest %s: ack for event %r while waiting for %r" % (self.ingest, ack.event_id, expected)
                    )
                acks.append(ack)
                deadline = time.monotonic() + self.timeout_ms / 1000.0
        except BaseException:
            self._reset_ingest()
            raise

    def post_jsonl(self, path, window=256):
        """Post the events of a JSON-lines file ('-' for stdin); return the Acks.

        The whole file is parsed before anything is sent, so that a malformed
        line (ValueError naming path:line) sends nothing.
        """
        return self.post(_read_jsonl(path), window=window)

    # -- query --

    def _request(self, req, what):
        rid = "%s-%d" % (self._rid_prefix, next(self._rid))
        req.request_id = rid
        sock = self._query()
        try:
            sock.send(req.SerializeToString())
        except zmq.Again:
            raise Timeout(self.query, what, self.timeout_ms) from None
        deadline = time.monotonic() + self.timeout_ms / 1000.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(max(1, int(left * 1000)), zmq.POLLIN):
                raise Timeout(self.query, what, self.timeout_ms)
            frames = sock.recv_multipart()
            if len(frames) != 1:
                raise ProtocolError("query %s: a response of %d frames (expected 1)" % (self.query, len(frames)))
            resp = query_pb2.Response.FromString(frames[0])
            if resp.request_id != rid:
                continue  # the late answer to a request that timed out
            return resp

    def _check(self, resp, after=None):
        if resp.error == _ERR.ERROR_CODE_NONE:
            return resp
        if resp.error == _ERR.ERROR_CODE_NOT_FOUND:
            raise NotFound(resp.error, resp.message, self.query)
        if resp.error == _ERR.ERROR_CODE_REPLAY_PURGED:
            head = resp.replay.head_sequence if resp.WhichOneof("result") == "replay" else None
            raise ReplayPurged(resp.error, resp.message, self.query, after=after, head_sequence=head)
        raise QueryError(resp.error, resp.message, self.query)

    def stats(self):
        """Return the daemon's Stats message."""
        resp = self._check(self._request(query_pb2.Request(stats=query_pb2.StatsRequest()), "stats"))
        if resp.WhichOneof("result") != "stats":
            raise ProtocolError("query %s: stats answered without stats" % self.query)
        return resp.stats

    def health(self):
        """Return the daemon's Health message (live, ready, detail)."""
        resp = self._check(self._request(query_pb2.Request(health=query_pb2.HealthRequest()), "health"))
        if resp.WhichOneof("result") != "health":
            raise ProtocolError("query %s: health answered without health" % self.query)
        return resp.health

    def matches(self, vacancy_id=None, graduate_id=None, limit=0):
        """Return the current ranked list of a vacancy or of a graduate (list of RankedMatch).

        Give exactly one of vacancy_id and graduate_id. limit 0 means the
        whole list. Raises NotFound if the daemon knows no such entity.
        """
        if (vacancy_id is None) == (graduate_id is None):
            raise ValueError("give exactly one of vacancy_id and graduate_id")
        tm = query_pb2.TopMatchesRequest(limit=limit)
        if vacancy_id is not None:
            tm.vacancy_id = vacancy_id
        else:
            tm.graduate_id = graduate_id
        resp = self._check(self._request(query_pb2.Request(top_matches=tm), "matches"))
        if resp.WhichOneof("result") != "top_matches":
            raise ProtocolError("query %s: top_matches answered without a list" % self.query)
        return list(resp.top_matches.matches)

    def replay(self, topic_prefix, after=0, limit=0):
        """Yield the ReplayPages of every stored update after `after` for topics starting with topic_prefix.

        Pages come in sequence order; the generator asks for the next page
        while the daemon says `more`. Each page's updates are Topical
        messages (topic, update). Raises ReplayPurged if the daemon no longer
        keeps the updates after `after`.
        """
        while True:
            rq = query_pb2.ReplayRequest(topic_prefix=topic_prefix, after_sequence=after, limit=limit)
            resp = self._check(self._request(query_pb2.Request(replay=rq), "replay"), after=after)
            if resp.WhichOneof("result") != "replay":
                raise ProtocolError("query %s: replay answered without a page" % self.query)
            page = resp.replay
            yield page
            if not page.more:
                return
            if page.last_sequence <= after:
                raise ProtocolError(
                    "query %s: replay page says more but does not advance (after %d)" % (self.query, after)
                )
            after = page.last_sequence

    def replay_updates(self, topic_prefix, after=0):
        """Yield (topic, MatchUpdate) for every stored update after `after` under topic_prefix."""
        for page in self.replay(topic_prefix, after=after):
            for t in page.updates:
                yield t.topic, t.update

    # -- feed --

    def subscribe(self, topic, from_seq=0, idle_timeout_ms=None, catchup_ms=1000):
        """Follow the feed for a topic prefix: stored updates after from_seq, then live ones.

        Returns a Subscription, an iterator of MatchUpdate with no gap and
        no duplicate, in increasing sequence order within each topic (the
        zguide's Clone pattern). See Subscription.
        """
        return Subscription(self, topic, from_seq, idle_timeout_ms=idle_timeout_ms, catchup_ms=catchup_ms)


class Subscription:
    """An iterator of MatchUpdate for one topic prefix, caught up and kept gap-free.

    How it works (zguide "Clone" pattern):

    1. a SUB socket is connected and subscribed to `topic` first, so that
       nothing published from now on is lost;
    2. every stored update after `from_seq` for the topic prefix is replayed
       through the query socket and yielded;
    3. then live messages are yielded. A message already yielded is dropped
       (the replay had it, or the same update published under a second
       topic). Sequence numbers are global, so a topic's numbers jump over
       other topics' updates; a message received under topic T names in
       ``previous_sequence[T]`` the previous update published under T: if
       that one was not yielded (and is above ``last_sequence``), messages
       were lost, and the client replays after ``last_sequence`` and yields
       what it missed before the live message. From a daemon that does not
       send previous_sequence for T, any jump (> the highest sequence seen
       + 1) causes that replay. With a prefix covering several topics, a
       recovered update may come after later updates of other topics:
       sequence order holds within each topic.
    4. while the feed is quiet, every `catchup_ms` (0 or None: never) it also
       replays after ``last_sequence``, so that a message lost at
       the end of a burst (or before the subscription reached the daemon)
       is not held back until the next one arrives.

    If the daemon no longer keeps the updates needed, ReplayPurged is raised:
    re-fetch the lists with Client.matches() and subscribe again from
    e.head_sequence.

    `idle_timeout_ms`: stop the iteration when nothing was yielded for that
    long (None: never). ``next_update(timeout_ms)`` returns None on timeout
    instead.

    Attributes: ``last_sequence`` (every update of the topic up to it has
    been yielded or was already known), ``last_topic`` (topic of the last
    update yielded: the first one it was seen under), ``counts``: updates
    yielded from a replay ("replayed"), received live ("live"), missed live
    and recovered by a gap replay ("repaired"); live copies dropped as
    already seen ("dropped"); losses (or, from an older daemon, jumps) that
    caused a replay ("gaps"); replays done while the feed was quiet
    ("catchups").
    """

    def __init__(self, client, topic, from_seq=0, idle_timeout_ms=None, catchup_ms=1000):
        self.client = client
        self.topic = topic
        self.last_sequence = int(from_seq)
        self._top = self.last_sequence  # highest sequence yielded or covered
        self._seen = set()  # sequences received live above last_sequence
        self.last_topic = None
        self.idle_timeout_ms = idle_timeout_ms
        self.catchup_ms = catchup_ms
        self.counts = {"replayed": 0, "repaired": 0, "live": 0, "dropped": 0, "gaps": 0, "catchups": 0}
        self._queue = collections.deque()
        self._started = False
        self._sub = client._socket(zmq.SUB, client.feed)
        self._sub.setsockopt(zmq.RCVHWM, 100000)
        self._sub.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8"))
        client._subs.append(self)

    def close(self):
        if self._sub is not None:
            self._sub.close(linger=0)
            self._sub = None
        if self in self.client._subs:
            self.client._subs.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return self

    def __next__(self):
        u = self.next_update(self.idle_timeout_ms)
        if u is None:
            raise StopIteration
        return u

    def _yielded(self, s):
        return s <= self.last_sequence or s in self._seen

    def _raise_floor(self, floor):
        if floor > self.last_sequence:
            self.last_sequence = floor
        while self.last_sequence + 1 in self._seen:
            self.last_sequence += 1
        if self._seen:
            self._seen = {s for s in self._seen if s > self.last_sequence}
        self._top = max(self._top, self.last_sequence)

    def _catch_up(self, live_seq=None):
        """Replay after last_sequence and queue what was not yielded; return how many were queued.

        With live_seq (the live message that revealed a gap), updates below it
        are counted as "repaired" (missed by the live stream), the one equal
        to it as "live", and the ones above it as "replayed" (stored, not yet
        received live; their live copies will be dropped).
        """
        n = 0
        for page in self.client.replay(self.topic, after=self.last_sequence):
            for t in page.updates:
                s = t.update.sequence
                if self._yielded(s):
                    continue
                how = "replayed"
                if live_seq is not None:
                    how = "repaired" if s < live_seq else "live" if s == live_seq else "replayed"
                self._queue.append((t.topic, t.update, how))
                n += 1
            # every update of the topic up to the page's last scanned number is covered
            self._raise_floor(page.last_sequence)
        return n

    def _lost_before(self, topic, update):
        """Whether messages were lost before this live update, received under topic."""
        if topic in update.previous_sequence:
            prev = update.previous_sequence[topic]
            return prev != 0 and not self._yielded(prev)
        return update.sequence > self._top + 1  # an older daemon: any jump

    def _on_live(self, topic, update):
        s = update.sequence
        if self._yielded(s):
            self.counts["dropped"] += 1
            return
        lost = self._lost_before(topic, update)
        if lost or len(self._seen) >= 100000:
            if lost:
                self.counts["gaps"] += 1
            self._catch_up(live_seq=s)
            if self._yielded(s):  # the replay had it
                return
        self._queue.append((topic, update, "live"))
        if s == self.last_sequence + 1 and not self._seen:
            self.last_sequence = s
        else:
            self._seen.add(s)
        self._top = max(self._top, s)

    def _pop(self):
        topic, update, how = self._queue.popleft()
        self.counts[how] += 1
        self.last_topic = topic
        return update

    def next_update(self, timeout_ms=None):
        """Return the next MatchUpdate, or None if none came within timeout_ms (None: wait forever)."""
        if self._sub is None:
            raise PasserelleError("the subscription is closed")
        if not self._started:
            self._started = True
            self._catch_up()
        if self._queue:
            return self._pop()
        deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000.0
        last_catchup = time.monotonic()
        while True:
            wait = None
            if deadline is not None:
                wait = max(0.0, deadline - time.monotonic())
            if self.catchup_ms:
                until = max(0.0, last_catchup + self.catchup_ms / 1000.0 - time.monotonic())
                wait = until if wait is None else min(wait, until)
            ready = self._sub.poll(None if wait is None else int(wait * 1000), zmq.POLLIN)
            if ready:
                # drain what is there, without waiting
                while self._sub.poll(0, zmq.POLLIN):
                    frames = self._sub.recv_multipart()
                    if len(frames) != 2:
                        raise ProtocolError(
                            "feed %s: a message of %d frames (expected [topic][MatchUpdate])"
                            % (self.client.feed, len(frames))
                        )
                    self._on_live(frames[0].decode("utf-8", "replace"), feed_pb2.MatchUpdate.FromString(frames[1]))
                    if len(self._queue) >= 1000:
                        break
            elif self.catchup_ms and time.monotonic() >= last_catchup + self.catchup_ms / 1000.0:
                self.counts["catchups"] += 1
                self._catch_up()
                last_catchup = time.monotonic()
            if self._queue:
                return self._pop()
            if deadline is not None and time.monotonic() >= deadline:
                return None


# --------------------------------------------------------------------------
# Rebuilding ranked lists from the feed


class ListState:
    """Ranked lists rebuilt from MatchUpdates (feed or replay).

    ``apply(update)`` for each update in sequence order; then
    ``vacancy_list(vacancy_id)`` / ``graduate_list(graduate_id)`` return
    RankedMatch messages in rank order (score, then id), comparable with
    Client.matches().
    A LEFT stored after a graduate's erasure carries no graduate id; the lists
    it touched are listed in ``unresolved`` and must be re-fetched.
    """

    def __init__(self):
        self._lists = {}  # (side, owner id) -> {member id: RankedMatch}
        self.unresolved = set()

    def apply(self, u):
        if u.side == feed_pb2.LIST_SIDE_VACANCY:
            key, member = (u.side, u.vacancy_id), u.graduate_id
        elif u.side == feed_pb2.LIST_SIDE_GRADUATE:
            key, member = (u.side, u.graduate_id), u.vacancy_id
        else:
            raise ProtocolError("update %d has no list side" % u.sequence)
        lst = self._lists.setdefault(key, {})
        if u.kind == feed_pb2.MATCH_KIND_LEFT:
            if not member:
                self.unresolved.add(key)
            lst.pop(member, None)
            return
        m = query_pb2.RankedMatch(
            rank=u.rank,
            score=u.score,
            vacancy_id=u.vacancy_id,
            employer_id=u.employer_id,
            graduate_id=u.graduate_id,
            school_id=u.school_id,
        )
        if u.HasField("explanation"):
            m.explanation.CopyFrom(u.explanation)
        lst[member] = m

    def _sorted(self, key):
        """The list in rank order: by score, highest first, then by the
        member's id. An update's ``rank`` is its entry's rank when it was
        sent; entries that only moved because another one entered or left
        above them are not sent again, so ranks are recomputed here."""
        side = key[0]
        member = (lambda m: m.graduate_id) if side == feed_pb2.LIST_SIDE_VACANCY else (lambda m: m.vacancy_id)
        out = sorted(self._lists.get(key, {}).values(), key=lambda m: (-round(m.score * 1e6), member(m)))
        for i, m in enumerate(out):
            m.rank = i + 1
        return out

    def vacancy_list(self, vacancy_id):
        return self._sorted((feed_pb2.LIST_SIDE_VACANCY, vacancy_id))

    def graduate_list(self, graduate_id):
        return self._sorted((feed_pb2.LIST_SIDE_GRADUATE, graduate_id))

    def vacancies(self):
        return sorted(k[1] for k in self._lists if k[0] == feed_pb2.LIST_SIDE_VACANCY)

    def graduates(self):
        return sorted(k[1] for k in self._lists if k[0] == feed_pb2.LIST_SIDE_GRADUATE)
