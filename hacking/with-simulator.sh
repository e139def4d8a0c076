#!/usr/bin/env bash
# Run a command against a freshly started Divio API simulator, then stop it.
#   hacking/with-simulator.sh ansible-playbook playbooks/check_backups.yml
# The command sees DIVIO_API_URL and DIVIO_API_TOKEN. Simulator flags come from SIMULATOR_ARGS
# (default: the "demo" data set), e.g. SIMULATOR_ARGS="--size tiny --seed 7".
#
# Works from a plain shell once `make demo` (or `make venv`) has created .venv (VENV=... for another
# one): the command runs with .venv/bin first on PATH, this checkout first in ANSIBLE_COLLECTIONS_PATH,
# .venv's Python as the module interpreter (unless ANSIBLE_PYTHON_INTERPRETER is set) and
# playbooks/inventory as the inventory (unless ANSIBLE_INVENTORY is set or -i is given).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
case $venv in /*) ;; *) venv=$here/$venv ;; esac
if [ -x "$venv/bin/python" ]; then
    export PATH="$venv/bin:$PATH"
    export ANSIBLE_COLLECTIONS_PATH="$venv/collections${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}"
    export ANSIBLE_PYTHON_INTERPRETER=${ANSIBLE_PYTHON_INTERPRETER:-$venv/bin/python}
    export ANSIBLE_INVENTORY=${ANSIBLE_INVENTORY:-$here/playbooks/inventory}
    # ansible-core imports cryptography's DSA support for ssh-agent, which the latest cryptography marks as
    # deprecated on every run: not the collection's to fix, and noise on a newcomer's first screen.
    export PYTHONWARNINGS=${PYTHONWARNINGS:-"ignore:DSA is deprecated"}
elif [ $# -gt 0 ] && ! command -v "$1" >/dev/null; then
    echo "$1 not found and there is no $venv yet: run 'make demo' (or 'make venv') in $here first." >&2
    exit 127
fi
python=${SIMULATOR_PYTHON:-$(command -v python3)}
[ -x "$venv/bin/python" ] && python=${SIMULATOR_PYTHON:-$venv/bin/python}

workdir=$(mktemp -d)
sim_pid=
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -rf "$workdir"' EXIT

export DIVIO_SIMULATOR_TOKEN=${DIVIO_SIMULATOR_TOKEN:-simulator-demo-token}
# shellcheck disable=SC2086  # SIMULATOR_ARGS is a list of flags
"$python" "$here/tests/simulator/simulator.py" --port 0 --url-file "$workdir/url" ${SIMULATOR_ARGS:---size demo} >"$workdir/log" 2>&1 &
sim_pid=$!
for _ in $(seq 1 100); do
    [ -s "$workdir/url" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$workdir/log" >&2; echo "the simulator did not start" >&2; exit 1; }
    sleep 0.05
done
[ -s "$workdir/url" ] || { echo "the simulator did not start within 5 s" >&2; exit 1; }

export DIVIO_API_URL; DIVIO_API_URL=$(cat "$workdir/url")
export DIVIO_API_TOKEN=$DIVIO_SIMULATOR_TOKEN
echo "Divio API simulator running at $DIVIO_API_URL" >&2
"$@"
