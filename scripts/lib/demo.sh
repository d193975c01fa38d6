# Sourced by the scripts that drive a real `bedside demo` (FHIR validation,
# schemathesis, HealthChain interop): one way to start it on a free loopback
# port in a throwaway data dir, wait for it, and stop it whatever happens.
#
#   source scripts/lib/demo.sh
#   demo_start BIN LOG WAIT [demo args...]   # WAIT: healthz | replayed
#   ... use $BASE, $PORT, $DEMO_DATA ...
#   demo_stop                                # also runs on EXIT
#
# Sets BASE, PORT, DEMO_PID and DEMO_DATA (removed on exit).

DEMO_PID=
DEMO_DATA=
demo_stop() {
  if [ -n "$DEMO_PID" ]; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
    DEMO_PID=
  fi
}
_demo_cleanup() {
  demo_stop
  if [ -n "$DEMO_DATA" ]; then rm -rf "$DEMO_DATA"; fi
}
trap _demo_cleanup EXIT

demo_start() {
  local bin=$1 log=$2 wait=$3
  shift 3
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  BASE=http://127.0.0.1:$PORT
  DEMO_DATA=$(mktemp -d)
  "$bin" demo --listen "127.0.0.1:$PORT" --data-dir "$DEMO_DATA/store" "$@" >"$log" 2>&1 &
  DEMO_PID=$!
  local _
  for _ in $(seq 1 3000); do
    case "$wait" in
      replayed) grep -q "demo cohort replayed" "$log" 2>/dev/null && return 0 ;;
      *) curl -fs -o /dev/null "$BASE/healthz" 2>/dev/null && return 0 ;;
    esac
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
      echo "bedside demo exited:" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "bedside demo did not come up:" >&2
  tail -n 20 "$log" >&2
  return 1
}
