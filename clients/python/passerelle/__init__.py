"""Python client of Passerelle's matcherd (ZeroMQ + protobuf).

    from passerelle import Client
    with Client() as c:
        acks = c.post([{"eventId": "...", "source": "...", ...}])
        for m in c.matches(vacancy_id="v-aero-tarbes-1"):
            print(m.rank, m.graduate_id, m.score)

The protobuf modules of the contract are importable as
``passerelle.v1.ingest_pb2`` and friends (see ``passerelle._proto`` for where
they come from); the message classes are also re-exported here.
"""

import os as _os

from . import _proto

# Make the generated package "passerelle.v1" a sub-package of this one: the
# generated modules import each other as "from passerelle.v1 import ...".
_PB2_DIR = _proto.pb2_dir()
__path__.append(_os.path.join(_PB2_DIR, "passerelle"))  # noqa: F821 (package __path__)

from .v1 import entities_pb2, feed_pb2, ingest_pb2, query_pb2  # noqa: E402

from .client import (  # noqa: E402
    DEFAULT_FEED,
    DEFAULT_INGEST,
    DEFAULT_QUERY,
    Client,
    ListState,
    NotFound,
    PasserelleError,
    ProtocolError,
    QueryError,
    ReplayPurged,
    Subscription,
    Timeout,
    ack_summary,
    to_event,
)

Event = ingest_pb2.Event
Ack = ingest_pb2.Ack
MatchUpdate = feed_pb2.MatchUpdate
RankedMatch = query_pb2.RankedMatch

__version__ = "0.1.0"

__all__ = [
    "Ack",
    "Client",
    "DEFAULT_FEED",
    "DEFAULT_INGEST",
    "DEFAULT_QUERY",
    "Event",
    "ListState",
    "MatchUpdate",
    "NotFound",
    "PasserelleError",
    "ProtocolError",
    "QueryError",
    "RankedMatch",
    "ReplayPurged",
    "Subscription",
    "Timeout",
    "ack_summary",
    "entities_pb2",
    "feed_pb2",
    "ingest_pb2",
    "query_pb2",
    "to_event",
]
