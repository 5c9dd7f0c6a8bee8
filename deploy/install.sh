#!/bin/sh
# Build and install matcherd as a systemd service on Debian 12. Run as root.
#
#   ./deploy/install.sh            installs under /usr/local
#   PREFIX=/opt/passerelle ./deploy/install.sh
#
# Installs the build dependencies, builds (with the installed reference data
# as the default), installs with cmake --install, creates the system user
# `passerelle`, installs /etc/passerelle/matcherd.conf if there is none (an
# existing one is kept), the backup directory and the unit, then says how
# to start it. Safe to run again to upgrade (see docs/OPERATIONS.md).
set -eu
PREFIX=${PREFIX:-/usr/local}
BUILD=${BUILD:-build-install}
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (it creates a user and writes /etc)" >&2
    exit 1
fi
./deploy/install-deps.sh

echo "== build ($BUILD, prefix $PREFIX)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DPASSERELLE_USE_INSTALLED_REFERENCE=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)"
echo "== install"
cmake --install "$BUILD"

if ! getent passwd passerelle >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/passerelle --no-create-home \
        --shell /usr/sbin/nologin --comment "Passerelle matcherd" passerelle
    echo "created system user passerelle"
fi

install -d -m 0755 /etc/passerelle
if [ -e /etc/passerelle/matcherd.conf ]; then
    echo "kept the existing /etc/passerelle/matcherd.conf"
else
    sed -e 's|^data = .*|data = /var/lib/passerelle/data|' \
        "$PREFIX/share/passerelle/matcherd.conf.example" >/etc/passerelle/matcherd.conf
    chmod 0644 /etc/passerelle/matcherd.conf
    echo "installed /etc/passerelle/matcherd.conf"
fi
"$PREFIX/bin/matcherd" --config /etc/passerelle/matcherd.conf --check-config

install -d -m 0700 -o passerelle -g passerelle /var/backups/passerelle

unit="$PREFIX/lib/systemd/system/matcherd.service"
case "$PREFIX" in
/usr | /usr/local) ;; # on systemd's unit search path
*)
    install -m 0644 "$unit" /etc/systemd/system/matcherd.service
    unit=/etc/systemd/system/matcherd.service
    ;;
esac
echo "installed $unit"
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi

cat <<MSG

matcherd is installed. To start it now and at every boot:

    systemctl enable --now matcherd
    $PREFIX/bin/matchctl health && journalctl -u matcherd -n 5

Configuration: /etc/passerelle/matcherd.conf (systemctl restart matcherd after a change).
Store: /var/lib/passerelle/data. Operations guide: $PREFIX/share/doc/passerelle/OPERATIONS.md
MSG
