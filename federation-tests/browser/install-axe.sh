#!/usr/bin/env bash
# Installs the axe-core accessibility engine (pinned) from the npm registry into a writable
# folder, as the peers in ../shared/peers install themselves, and prints the path of
# axe.min.js for LYCEUM_AXE_JS. Idempotent: a second run reuses the installed package.
#   federation-tests/browser/install-axe.sh         -> prints: <dir>/node_modules/axe-core/axe.min.js
#   LYCEUM_PEER_HOME=/some/dir ...install-axe.sh    (default: ~/.cache/lyceum-peers)
set -euo pipefail
version=4.14.1
dir=${LYCEUM_PEER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/lyceum-peers}/axe-core
installed=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dir/node_modules/axe-core/package.json" 2>/dev/null || true)
if [ "$installed" != "$version" ]; then
  mkdir -p "$dir"
  # A package.json of our own keeps npm from walking up to some other project's.
  printf '{"private": true, "dependencies": {"axe-core": "%s"}}\n' "$version" >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
test -s "$dir/node_modules/axe-core/axe.min.js"
echo "$dir/node_modules/axe-core/axe.min.js"
