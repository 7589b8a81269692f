#!/usr/bin/env bash
# PyPI's scim2-server (Yaal Coop), an independent in-memory SCIM 2.0 server, for the third-party tests.
#   scim2-server.sh install           install the pinned release into $TARGETS_HOME (once per requirements file)
#   scim2-server.sh serve PORT TOKEN  run it in the foreground on 127.0.0.1:PORT; base URL /v2; empty store
# Installs come from the registry at first use, never from the repository. install exits 75 when the registry
# cannot be reached at all (the tests then skip), and 1 when it can but the install still fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/scim2-server.txt"
key=$(sha256sum "$requirements" | cut -c1-12)
venv="${TARGETS_HOME:-$HOME/.cache/scimconform-targets}/scim2-server-$key"

install() {
  [ -f "$venv/.installed" ] && return 0
  rm -rf "$venv" && mkdir -p "$(dirname "$venv")"
  local log="$venv.install.log"
  if python3 -m venv "$venv" >"$log" 2>&1 && "$venv/bin/python" -m pip install -q -r "$requirements" >>"$log" 2>&1; then
    touch "$venv/.installed"
    return 0
  fi
  rm -rf "$venv"
  # Tell "the registry is unreachable" from "the install is broken": can pip see the package at all?
  if ! python3 -m pip index versions scim2-server >/dev/null 2>&1; then
    echo "scim2-server: the Python package registry cannot be reached; see $log" >&2
    exit 75
  fi
  echo "scim2-server: pip install failed although the registry answers; see $log" >&2
  tail -n 5 "$log" >&2
  exit 1
}

case "${1:-}" in
  install) install ;;
  serve)
    install
    exec "$venv/bin/scim2-server" --hostname 127.0.0.1 --port "$2" --bearer-token "$3"
    ;;
  *) echo "usage: $0 install | serve PORT TOKEN" >&2; exit 2 ;;
esac
