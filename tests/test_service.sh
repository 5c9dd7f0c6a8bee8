#!/bin/sh
# The systemd unit passes `systemd-analyze verify`: syntax, known settings,
# and an ExecStart that is executable (the unit configured with this build's
# matcherd). Any diagnostic fails the test, not only a non-zero exit.
# Usage: test_service.sh UNIT
set -eu
unit=$1
out=$(systemd-analyze verify "$unit" 2>&1) || {
    echo "systemd-analyze verify failed:"
    echo "$out"
    exit 1
}
if [ -n "$out" ]; then
    echo "systemd-analyze verify printed diagnostics:"
    echo "$out"
    exit 1
fi
# The settings the deployment relies on are there.
for want in "Type=notify" "User=passerelle" "StateDirectory=passerelle" \
    "ConfigurationDirectory=passerelle" "ExecReload=/bin/kill -HUP \$MAINPID" \
    "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
    "PrivateDevices=yes" "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
    "SystemCallFilter=@system-service" "MemoryDenyWriteExecute=yes" "LockPersonality=yes" \
    "RestrictRealtime=yes" "CapabilityBoundingSet="; do
    grep -qxF "$want" "$unit" || {
        echo "missing: $want"
        exit 1
    }
done
echo "1 passed, 0 failed"
