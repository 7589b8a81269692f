#!/usr/bin/env bash
# An express app on npm's scimmy + scimmy-routers (scimmy/server.mjs), an independent SCIM 2.0 server, for the
# third-party tests.
#   scimmy.sh install           npm ci the pinned lock file into $TARGETS_HOME (once per lock file)
#   scimmy.sh serve PORT TOKEN  run it in the foreground on 127.0.0.1:PORT; base URL /scim/v2; empty store
# Installs come from the registry at first use, never from the repository. install exits 75 when the registry
# cannot be reached at all (the tests then skip), and 1 when it can but the install still fails.
set -euo pipefail
here=$(cd "$(dirname "$0")/scimmy" && pwd)
key=$(sha256sum "$here/package-lock.json" | cut -c1-12)
app="${TARGETS_HOME:-$HOME/.cache/scimconform-targets}/scimmy-$key"

install() {
  [ -f "$app/.installed" ] && return 0
  rm -rf "$app" && mkdir -p "$app"
  cp "$here/package.json" "$here/package-lock.json" "$app/"
  local log="$app.install.log"
  if (cd "$app" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
    touch "$app/.installed"
    return 0
  fi
  rm -rf "$app"
  # Tell "the registry is unreachable" from "the install is broken": can npm see the package at all?
  if ! npm view scimmy@1.3.5 version >/dev/null 2>&1; then
    echo "scimmy: the npm registry cannot be reached; see $log" >&2
    exit 75
  fi
  echo "scimmy: npm ci failed although the registry answers; see $log" >&2
  tail -n 5 "$log" >&2
  exit 1
}

case "${1:-}" in
  install) install ;;
  serve)
    install
    # The app is copied on every start, so an edit to server.mjs needs no reinstall.
    cp "$here/server.mjs" "$app/server.mjs"
    PORT="$2" TOKEN="$3" exec node "$app/server.mjs"
    ;;
  *) echo "usage: $0 install | serve PORT TOKEN" >&2; exit 2 ;;
esac
