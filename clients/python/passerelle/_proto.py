"""Locate or generate the protobuf modules of the Passerelle contract.

The ``*_pb2.py`` modules are never committed: they are generated from
``proto/passerelle/v1/*.proto`` with ``protoc --python_out``. Where they come
from, in order:

1. ``PASSERELLE_PB2_DIR``: a directory holding ``passerelle/v1/*_pb2.py``.
   If the modules are missing there, they are generated into it.
2. Otherwise they are generated once into a cache directory
   (``$XDG_CACHE_HOME/passerelle`` or ``~/.cache/passerelle``, falling back to
   the system temporary directory), keyed by a hash of the .proto files and
   of the protoc version, so that a changed contract is regenerated.

The .proto files are looked up in ``PASSERELLE_PROTO_DIR`` (the directory
that contains ``passerelle/v1/``), then ``$PASSERELLE_SOURCE_DIR/proto``, then
the ``proto/`` folder of the source tree this package sits in.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

PROTO_FILES = ("entities", "ingest", "feed", "query")
_SUBDIR = os.path.join("passerelle", "v1")


class ProtoSetupError(ImportError):
    """The protobuf modules could not be found or generated."""


def find_proto_root():
    """Return the directory that holds passerelle/v1/*.proto."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    if os.environ.get("PASSERELLE_PROTO_DIR"):
        candidates.append(os.environ["PASSERELLE_PROTO_DIR"])
    if os.environ.get("PASSERELLE_SOURCE_DIR"):
        candidates.append(os.path.join(os.environ["PASSERELLE_SOURCE_DIR"], "proto"))
    candidates.append(os.path.normpath(os.path.join(here, "..", "..", "..", "proto")))
    for c in candidates:
        if all(os.path.isfile(os.path.join(c, _SUBDIR, f + ".proto")) for f in PROTO_FILES):
            return c
    raise ProtoSetupError(
        "cannot find the Passerelle contract (passerelle/v1/*.proto); looked in: "
        + ", ".join(candidates)
        + ". Set PASSERELLE_PROTO_DIR to the repository's proto/ directory, or "
        "PASSERELLE_PB2_DIR to a directory of generated modules."
    )


def _complete(out_dir):
    return all(os.path.isfile(os.path.join(out_dir, _SUBDIR, f + "_pb2.py")) for f in PROTO_FILES)


def _protoc():
    exe = shutil.which("protoc") or ("/usr/bin/protoc" if os.path.exists("/usr/bin/protoc") else None)
    if not exe:
        raise ProtoSetupError(
            "protoc not found: install it (Debian: apt-get install protobuf-compiler) "
            "or set PASSERELLE_PB2_DIR to a directory of generated *_pb2.py modules"
        )
    return exe


def _run_protoc(proto_root, out_dir):
    exe = _protoc()
    cmd = [exe, "--python_out=" + out_dir, "-I" + proto_root]
    cmd += [os.path.join(proto_root, _SUBDIR, f + ".proto") for f in PROTO_FILES]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProtoSetupError("running %s failed: %s" % (" ".join(cmd), e)) from e
    if r.returncode != 0:
        raise ProtoSetupError(
            "%s failed (exit %d): %s" % (" ".join(cmd), r.returncode, r.stderr.decode(errors="replace"))
        )


def generate(out_dir, proto_root=None):
    """Generate passerelle/v1/*_pb2.py under out_dir (atomically per file)."""
    proto_root = proto_root or find_proto_root()
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".pb2-", dir=out_dir)
    try:
        _run_protoc(proto_root, tmp)
        os.makedirs(os.path.join(out_dir, _SUBDIR), exist_ok=True)
        for f in PROTO_FILES:
            name = f + "_pb2.py"
            os.replace(os.path.join(tmp, _SUBDIR, name), os.path.join(out_dir, _SUBDIR, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _cache_key(proto_root):
    h = hashlib.sha256()
    try:
        v = subprocess.run([_protoc(), "--version"], stdout=subprocess.PIPE, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        v = b""
    h.update(v)
    for f in PROTO_FILES:
        with open(os.path.join(proto_root, _SUBDIR, f + ".proto"), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


def _cache_bases():
    bases = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        bases.append(os.path.join(xdg, "passerelle"))
    home = os.path.expanduser("~")
    if home and home != "~":
        bases.append(os.path.join(home, ".cache", "passerelle"))
    bases.append(os.path.join(tempfile.gettempdir(), "passerelle-pb2-%d" % os.getuid()))
    return bases


def pb2_dir():
    """Return a directory holding passerelle/v1/*_pb2.py, generating it if needed."""
    env = os.environ.get("PASSERELLE_PB2_DIR")
    if env:
        if not _complete(env):
            try:
                generate(env)
            except OSError as e:
                raise ProtoSetupError(
                    "PASSERELLE_PB2_DIR=%s holds no passerelle/v1/*_pb2.py and they cannot be "
                    "generated there: %s" % (env, e)
                ) from e
        return env
    proto_root = find_proto_root()
    key = _cache_key(proto_root)
    errors = []
    for base in _cache_bases():
        target = os.path.join(base, key)
        if _complete(target):
            return target
        try:
            os.makedirs(base, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=".gen-", dir=base)
            try:
                _run_protoc(proto_root, tmp)
                try:
                    os.rename(tmp, target)  # atomic; another process may have won
                except OSError:
                    if not _complete(target):
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            return target
        except ProtoSetupError:
            raise
        except OSError as e:
            errors.append("%s: %s" % (base, e))
    raise ProtoSetupError("cannot write the generated protobuf modules anywhere: " + "; ".join(errors))
