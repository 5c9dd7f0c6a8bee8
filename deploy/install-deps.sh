#!/bin/sh
# Install every Debian 12 package Passerelle needs to build, test and run.
# Idempotent and quiet when everything is already present. Run as root (or
# with sudo available).
set -eu

PACKAGES="build-essential cmake pkg-config
libzmq3-dev libczmq-dev libsodium-dev libprotobuf-c-dev protobuf-c-compiler liblmdb-dev lmdb-utils
libjson-c-dev libinih-dev libcmocka-dev libcsv-dev libsystemd-dev systemd
python3 python3-zmq python3-protobuf protobuf-compiler python3-prometheus-client
valgrind clang-format clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
