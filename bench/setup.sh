#!/usr/bin/env bash
# Installs what the benchmarks need besides the project itself: libfaketime and
# redis-server from Debian, and bench/.venv with bench/requirements.txt (py-spy and
# the Django Channels baseline), apart from the project's .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v faketime >/dev/null || ! command -v redis-server >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq faketime redis-server
fi
if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q -r bench/requirements.txt
echo "bench setup done: $(bench/.venv/bin/py-spy --version), $(redis-server --version | cut -d' ' -f1-3)"
