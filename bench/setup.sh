#!/usr/bin/env bash
# Installs what the benchmarks need besides the project itself: libfaketime,
# redis-server and syncplay-server (the Syncplay peer of bench.peers, run by
# /usr/bin/python3) from Debian, and bench/.venv with bench/requirements.txt (py-spy and
# the Django Channels baseline), apart from the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v faketime >/dev/null || ! command -v redis-server >/dev/null \
    || ! dpkg-query -W -f '${Status}' syncplay-server 2>/dev/null | grep -q "ok installed"; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime redis-server syncplay-server
fi
# The bench starts its own Syncplay server on 127.0.0.1; the package's service (every
# interface, port 8999) is not wanted, where systemd would have started it.
if [ -d /run/systemd/system ] && systemctl is-enabled --quiet syncplay-server 2>/dev/null; then
    systemctl disable --now syncplay-server
fi
if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q -r bench/requirements.txt
echo "bench setup done: $(bench/.venv/bin/py-spy --version), $(redis-server --version | cut -d' ' -f1-3)," \
    "syncplay-server $(dpkg-query -W -f '${Version}' syncplay-server)"
