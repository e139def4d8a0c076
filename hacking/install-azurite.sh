#!/bin/sh
# Installs Azurite, the Azure Storage emulator that serves the simulator's az-sas-v1 uploads in the tests
# (tests/standins.py), into a hidden folder of the venv: out of the collection build and ansible-test's copy.
# Usage: hacking/install-azurite.sh [FOLDER]  (default .venv/azurite). Does nothing when it is there already.
# 3.35.0 is the newest Azurite that runs on Node 20 (3.36 needs Node 21, 3.37 Node 22).
set -eu
folder=${1:-.venv/azurite}
version=3.35.0
installed="$folder/node_modules/azurite/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
	exit 0
fi
command -v npm >/dev/null || { echo "install-azurite.sh: npm not found: install Node.js 20 or newer (with npm), needed for the az-sas-v1 upload tests" >&2; exit 1; }
echo "Installing azurite $version into $folder (about a minute)"
mkdir -p "$folder"
npm install --prefix "$folder" --no-audit --no-fund --no-save --loglevel=error "azurite@$version" >"$folder/npm-install.log" 2>&1 || {
	echo "install-azurite.sh: npm install azurite@$version failed; its output is in $folder/npm-install.log:" >&2
	tail -n 5 "$folder/npm-install.log" >&2
	exit 1
}
