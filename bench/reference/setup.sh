#!/usr/bin/env bash
# Creates target/ref-venv with the reference Python stack and the MCP Python SDK, for
#   cargo bench -p mcs-host --bench reference
# Bench-only: no test or CI step uses this venv. Run from anywhere:
#   bash bench/reference/setup.sh
# PYTHON picks the interpreter (default python3). The reference needs Python >= 3.11: its
# mcs-driver-core imports tomllib, whatever its requires-python says.
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: $python is $("$python" --version 2>&1); the reference stack needs Python >= 3.11" >&2
    echo "setup.sh: set PYTHON to a newer one, e.g. PYTHON=python3.12 bash bench/reference/setup.sh" >&2
    exit 1
fi

if [ ! -x target/ref-venv/bin/python ]; then
    "$python" -m venv target/ref-venv
fi
target/ref-venv/bin/pip install -q --disable-pip-version-check -r bench/reference/requirements.txt
echo "setup.sh: target/ref-venv is ready ($(target/ref-venv/bin/python --version))"
