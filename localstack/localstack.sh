#!/usr/bin/env bash
# Runs LocalStack community 4.14.0 (localstack-core from PyPI, Apache-2.0, no token) on the host,
# without Docker, on 127.0.0.1 for the LocalStack suite (test-localstack/). Modeled on
# kafka/broker.sh: installed once into a venv, pinned by constraints.txt, stopped by PID.
#
#   localstack.sh install | start | stop | status
#
# Environment: LOCALSTACK_HOME (venv cache), LOCALSTACK_PORT (4566), LOCALSTACK_DATA_DIR (state,
# logs, pid), LOCALSTACK_START_TIMEOUT (s), SFN_MOCK_CONFIG (Step Functions mocked tasks file).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

LOCALSTACK_VERSION="4.14.0" # later releases need an auth token
PYTHON_VERSION="3.13"       # 3.11/3.12 crash at import in host mode (`Lock | None`)
LOCALSTACK_HOME="${LOCALSTACK_HOME:-$HOME/.cache/cartflow-localstack}"
VENV="$LOCALSTACK_HOME/$LOCALSTACK_VERSION"
PY="$VENV/bin/python"
HOST="127.0.0.1"
PORT="${LOCALSTACK_PORT:-4566}"
DATA_DIR="${LOCALSTACK_DATA_DIR:-/tmp/cartflow-localstack}"
START_TIMEOUT="${LOCALSTACK_START_TIMEOUT:-60}"
ENDPOINT="http://$HOST:$PORT"
PID_FILE="$DATA_DIR/localstack.pid"
OUT_LOG="$DATA_DIR/localstack.log"

log() { echo "[localstack] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# A Python 3.13 interpreter: pyenv's if it has one, else python3.13 on PATH.
find_python() {
  local root v
  if command -v pyenv >/dev/null; then
    root="$(pyenv root)"
    v="$(pyenv versions --bare 2>/dev/null | grep -E "^${PYTHON_VERSION//./\\.}(\.[0-9]+)?$" | sort -V | tail -n 1 || true)"
    if [[ -n "$v" && -x "$root/versions/$v/bin/python$PYTHON_VERSION" ]]; then
      echo "$root/versions/$v/bin/python$PYTHON_VERSION"
      return 0
    fi
  fi
  command -v "python$PYTHON_VERSION" || die "Python $PYTHON_VERSION not found (pyenv versions, or python$PYTHON_VERSION on PATH)"
}

installed() { [[ -f "$VENV/.complete" ]] && "$PY" -c 'import localstack.runtime.main' 2>/dev/null; }

cmd_install() {
  if installed; then
    log "localstack-core $LOCALSTACK_VERSION already in $VENV"
    return 0
  fi
  local t0=$EPOCHREALTIME python tmp
  python="$(find_python)"
  mkdir -p "$LOCALSTACK_HOME"
  # Build in a temp dir and rename at the end, so an interrupted install never looks complete.
  # Scripts in a renamed venv keep the old path in their shebang: always call "$PY -m ...".
  tmp="$(mktemp -d "$LOCALSTACK_HOME/venv.tmp.XXXXXX")"
  log "installing localstack-core[runtime]==$LOCALSTACK_VERSION with $python into $VENV"
  "$python" -m venv "$tmp"
  if ! { "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
      "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$HERE/constraints.txt" "localstack-core[runtime]==$LOCALSTACK_VERSION"; } >"$tmp.pip.log" 2>&1; then
    tail -n 40 "$tmp.pip.log" >&2
    rm -rf "$tmp" "$tmp.pip.log"
    die "pip could not install localstack-core $LOCALSTACK_VERSION"
  fi
  rm -f "$tmp.pip.log"
  touch "$tmp/.complete"
  rm -rf "$VENV"
  mv "$tmp" "$VENV"
  log "installed in $(elapsed "$t0")s"
}

pid_alive() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid; pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: only ever signal our own LocalStack.
  local cmdline; cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *"localstack.runtime.main"* ]]
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
healthy() { curl -fsS --max-time 2 "$ENDPOINT/_localstack/health" >/dev/null 2>&1; }

cmd_start() {
  if pid_alive; then
    log "already running (pid $(cat "$PID_FILE")) on $ENDPOINT"
    echo "$ENDPOINT"
    return 0
  fi
  cmd_install
  if port_open "$HOST" "$PORT"; then die "port $HOST:$PORT is already in use"; fi
  local t0=$EPOCHREALTIME start=$SECONDS
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR/fs" "$DATA_DIR/tmp"
  # Step Functions reads the mock file when an execution names a test case, and again when it changes.
  if [[ -n "${SFN_MOCK_CONFIG:-}" && ! -s "$SFN_MOCK_CONFIG" ]]; then
    mkdir -p "$(dirname "$SFN_MOCK_CONFIG")"
    echo '{"StateMachines": {}, "MockedResponses": {}}' >"$SFN_MOCK_CONFIG"
  fi
  log "starting on $ENDPOINT"
  # The machine looks like a container: without OVERRIDE_IN_DOCKER=0 and a FILESYSTEM_ROOT it writes
  # under /var/lib/localstack. The default twisted gateway binds 0.0.0.0 whatever GATEWAY_LISTEN
  # says; hypercorn honours it. No DNS server and no internet (certificates, analytics events).
  # nohup + </dev/null: it must outlive the shell that started it.
  env GATEWAY_LISTEN="$HOST:$PORT" GATEWAY_SERVER=hypercorn \
    LOCALSTACK_HOST="$HOST:$PORT" DNS_ADDRESS=0 \
    OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$DATA_DIR/fs" TMPDIR="$DATA_DIR/tmp" \
    SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
    ${SFN_MOCK_CONFIG:+SFN_MOCK_CONFIG="$SFN_MOCK_CONFIG"} \
    nohup "$PY" -m localstack.runtime.main </dev/null >"$OUT_LOG" 2>&1 &
  echo $! >"$PID_FILE"
  local deadline=$((start + START_TIMEOUT))
  until healthy; do
    if ! pid_alive; then
      tail -n 40 "$OUT_LOG" >&2
      die "LocalStack exited during startup (log: $OUT_LOG)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$OUT_LOG" >&2
      cmd_stop
      die "LocalStack not healthy after ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  log "ready on $ENDPOINT in $(elapsed "$t0")s (pid $(cat "$PID_FILE"), log $OUT_LOG)"
  echo "$ENDPOINT"
}

cmd_stop() {
  if pid_alive; then
    local pid i; pid="$(cat "$PID_FILE")"
    log "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ignored SIGTERM for 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  else
    log "not running"
  fi
  rm -f "$PID_FILE"
}

cmd_status() {
  if pid_alive && healthy; then
    echo "running pid=$(cat "$PID_FILE") endpoint=$ENDPOINT version=$LOCALSTACK_VERSION"
    return 0
  fi
  echo "stopped"
  return 3
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
