#!/usr/bin/env bash
# Another project's SCIM test suite, run against scimconform's reference server (tests/test_peers.py).
#   peer.sh install NAME          install the pinned NAME.txt into $TARGETS_HOME (once per requirements file)
#   peer.sh run NAME COMMAND ...  run one of its console scripts, installing first
# Installs come from the registry at first use, never from the repository. install exits 75 when the registry
# cannot be reached at all (the tests then skip), and 1 when it can but the install still fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${2:-}
requirements="$here/$name.txt"
[ -n "$name" ] && [ -f "$requirements" ] || { echo "usage: $0 install NAME | run NAME COMMAND [ARGS...]" >&2; exit 2; }
key=$(sha256sum "$requirements" | cut -c1-12)
venv="${TARGETS_HOME:-$HOME/.cache/scimconform-targets}/$name-$key"

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
  if ! python3 -m pip index versions "$name" >/dev/null 2>&1; then
    echo "$name: the Python package registry cannot be reached; see $log" >&2
    exit 75
  fi
  echo "$name: pip install failed although the registry answers; see $log" >&2
  tail -n 5 "$log" >&2
  exit 1
}

case "${1:-}" in
  install) install ;;
  run)
    install
    shift 2
    exec "$venv/bin/$1" "${@:2}"
    ;;
  *) echo "usage: $0 install NAME | run NAME COMMAND [ARGS...]" >&2; exit 2 ;;
esac
