#!/usr/bin/env bash
# Tidings against the private Postfix baseline, in one run, with the shared load tools.
#
#   bench/compare.sh                 # both systems, 5 KB and 100 KB, 3 reps each
#   REPS=5 N5K=40000 bench/compare.sh
#   SYSTEMS=postfix bench/compare.sh # the Postfix half only (no `tidings` needed)
#   MODE=e2e bench/compare.sh        # end to end: delivered msgs/s into smtp-sink, 5 KB
#                                    # HTML with 20 links; Tidings renders, tracks, signs
#
# Knobs (environment): REPS (3), N5K (20000), N100K (6000), CONC (16), WARMUP (500,
# 0 = none), DRAIN_TIMEOUT (120 s), START_TIMEOUT (60 s), PYTHON (python3),
# BENCH_TOOLS (../shared/bench), BENCH_POSTFIX_PORT (2525), BENCH_SINK_PORT (2526),
# SYSTEMS ("postfix tidings"), KEEP_WORK (0; 1 keeps the temporary directory),
# MODE (accept: accepted msgs/s; e2e: delivered msgs/s, both systems relaying to one
# smtp-sink), LINKS (20, e2e: links in the HTML body).
#
# Raw smtpload JSON lines go to bench/out/compare-<time>.jsonl (gitignored). Every
# process started here is stopped on exit, Ctrl-C included. Must run as root: the
# private Postfix instance needs it. See bench/README.md for how to read the output.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${BENCH_TOOLS:-$ROOT/../shared/bench}
PYTHON=${PYTHON:-python3}
REPS=${REPS:-3}
N5K=${N5K:-20000}
N100K=${N100K:-6000}
CONC=${CONC:-16}
WARMUP=${WARMUP:-500}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
START_TIMEOUT=${START_TIMEOUT:-60}
PFX_PORT=${BENCH_POSTFIX_PORT:-2525}
SINK_PORT=${BENCH_SINK_PORT:-2526}
SYSTEMS=${SYSTEMS:-postfix tidings}
KEEP_WORK=${KEEP_WORK:-0}
MODE=${MODE:-accept}

MAIL_FROM=sender@bench.example
RCPT_TO=rcpt@example.com
SIZES=(5120 102400)
LOAD=("$PYTHON" "$TOOLS/smtpload.py")
if [[ $MODE == e2e ]]; then
  SIZES=(5120)
  # The shared client with a body carrying LINKS links, for both systems alike.
  LOAD=("$PYTHON" "$ROOT/bench/linked_load.py")
elif [[ $MODE != accept ]]; then
  printf 'compare.sh: MODE must be accept or e2e, not %s\n' "$MODE" >&2
  exit 2
fi

OUT_DIR=$ROOT/bench/out
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$OUT_DIR/compare-$STAMP.jsonl

# Set by the steps below and read by cleanup(); empty means "not started".
WORK=""
SINK_PID=""
PFX_ROOT=""
TIDINGS_PID=""
TIDINGS_PGID=""
LOAD_PID=""

say() { printf '%s\n' "$*"; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }
wants() { [[ " $SYSTEMS " == *" $1 "* ]]; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT SECONDS [PID]: until PORT accepts; fails early if PID dies.
wait_port() {
  local port=$1 deadline=$((SECONDS + $2)) pid=${3:-}
  until port_open "$port"; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- prerequisites
check_prerequisites() {
  [[ -f $TOOLS/smtpload.py && -x $TOOLS/postfix_instance.sh ]] ||
    die "shared bench tools not found in $TOOLS (set BENCH_TOOLS)"
  [[ $(id -u) -eq 0 ]] || die "run as root: the private Postfix instance needs it (sudo bench/compare.sh)"
  if ! command -v postfix >/dev/null || ! command -v smtp-sink >/dev/null; then
    die "postfix/smtp-sink missing: echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections && apt-get install -y postfix"
  fi
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3 or set PYTHON=/path/to/python"
  "$PYTHON" -c 'import aiosmtplib, uvloop' 2>/dev/null ||
    die "$PYTHON lacks aiosmtplib/uvloop: $PYTHON -m pip install aiosmtplib uvloop"
  if wants tidings; then
    command -v tidings >/dev/null ||
      die "tidings not on PATH: $PYTHON -m pip install -e $ROOT (or SYSTEMS=postfix for the baseline only)"
  fi
  local p
  for p in "$PFX_PORT" "$SINK_PORT"; do
    ! port_open "$p" ||
      die "127.0.0.1:$p is already in use (another bench run?); free it or set BENCH_POSTFIX_PORT/BENCH_SINK_PORT"
  done
}

# ---------------------------------------------------------------- start / stop
start_sink_and_postfix() {
  # smtp-sink -c writes a running "sess=.. quit=.. mesg=N" counter to stdout: it tells
  # how many messages Postfix has delivered, so each run can wait for its queue to drain.
  smtp-sink -c -u postfix "127.0.0.1:$SINK_PORT" 1024 >"$WORK/sink.log" 2>&1 &
  SINK_PID=$!
  wait_port "$SINK_PORT" 10 "$SINK_PID" || die "smtp-sink did not start (see $WORK/sink.log)"

  PFX_ROOT=$WORK/pfx
  "$TOOLS/postfix_instance.sh" setup "$PFX_ROOT" "$PFX_PORT" "$SINK_PORT" >/dev/null
  "$TOOLS/postfix_instance.sh" start "$PFX_ROOT" 2>/dev/null
  wait_port "$PFX_PORT" 30 || die "private Postfix did not listen on $PFX_PORT (see $PFX_ROOT/maillog)"
  say "postfix: 127.0.0.1:$PFX_PORT -> smtp-sink 127.0.0.1:$SINK_PORT"
}

start_tidings() {
  local ports smtp smtps http bounce
  # Four free ports at once (bound together, so they differ); the tiny window before
  # Tidings binds them is acceptable on a bench machine.
  ports=$("$PYTHON" -c 'import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
  read -r smtp smtps http bounce <<<"$ports"
  TIDINGS_SMTP=$smtp

  # Tidings relays to the same smtp-sink as Postfix, never to the default `mx`:
  # rcpt@example.com would be looked up on the Internet, example.com's null MX would
  # hard-bounce it, and every later message would take the "suppressed" path instead of
  # the durable write. No AUTH: smtp-sink's answer to AUTH is one no client accepts.
  local delivery="smtp://127.0.0.1:$SINK_PORT"
  TENV=(
    "TIDINGS_DATA_DIR=$WORK/tidings-data"
    "TIDINGS_SMTP_PORT=$smtp"
    "TIDINGS_SMTPS_PORT=$smtps"
    "TIDINGS_HTTP_PORT=$http"
    "TIDINGS_BOUNCE_PORT=$bounce"
    "TIDINGS_HOSTNAME=localhost"
    "TIDINGS_DELIVERY=$delivery"
    "TIDINGS_PUBLIC_URL=https://t.bench.example"
  )
  mkdir -p "$WORK/tidings-data"
  # setsid: Tidings and its children get a process group of their own, so cleanup can
  # stop exactly that group and nothing else.
  env "${TENV[@]}" setsid tidings serve >"$WORK/tidings.log" 2>&1 &
  TIDINGS_PID=$!
  TIDINGS_PGID=$(ps -o pgid= -p "$TIDINGS_PID" | tr -d ' ') || true
  if ! wait_port "$smtp" "$START_TIMEOUT" "$TIDINGS_PID"; then
    tail -n 20 "$WORK/tidings.log" >&2 || true
    die "tidings serve did not accept on port $smtp within ${START_TIMEOUT}s (log above)"
  fi

  local account
  account=$(env "${TENV[@]}" tidings account create bench --json) ||
    die "tidings account create failed"
  # One per line: neither may be split on spaces.
  {
    read -r TIDINGS_LOGIN && read -r TIDINGS_PASSWORD
  } < <("$PYTHON" -c 'import json, sys; a = json.load(sys.stdin); print(a["login"]); print(a["password"])' \
    <<<"$account" 2>/dev/null) || die "unexpected output of tidings account create --json: $account"
  env "${TENV[@]}" tidings account sender add bench @bench.example >/dev/null ||
    die "tidings account sender add failed"
  # Every message is DKIM-signed (RSA 2048), and opens and clicks are tracked (default).
  env "${TENV[@]}" tidings dkim generate bench.example >/dev/null ||
    die "tidings dkim generate failed"
  say "tidings: submission 127.0.0.1:$smtp (STARTTLS), delivery ${delivery%%://*}"
}

stop_tidings() {
  kill -TERM "$TIDINGS_PID" 2>/dev/null || true
  for _ in {1..150}; do # up to 15 s for a graceful drain
    kill -0 "$TIDINGS_PID" 2>/dev/null || break
    sleep 0.1
  done
  # Whatever is left of its group (a stuck child) goes too.
  if [[ -n $TIDINGS_PGID && $TIDINGS_PGID == "$TIDINGS_PID" ]]; then
    if kill -0 -- "-$TIDINGS_PGID" 2>/dev/null; then
      kill -TERM -- "-$TIDINGS_PGID" 2>/dev/null || true
      sleep 2
      kill -KILL -- "-$TIDINGS_PGID" 2>/dev/null || true
    fi
  else
    kill -KILL "$TIDINGS_PID" 2>/dev/null || true
  fi
  wait "$TIDINGS_PID" 2>/dev/null || true
  # The embedded redis-server runs in a session of its own, so the group kill misses it
  # if Tidings died before stopping it. It is found by this run's unique data path in
  # its command line (nobody else's process has it) and stopped by pid.
  local pid
  for pid in $(pgrep -f -- "$WORK/tidings-data" || true); do
    kill -TERM "$pid" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n $LOAD_PID ]]; then
    kill "$LOAD_PID" 2>/dev/null
    wait "$LOAD_PID" 2>/dev/null
  fi
  if [[ -n $TIDINGS_PID ]]; then stop_tidings; fi
  if [[ -n $PFX_ROOT ]]; then
    "$TOOLS/postfix_instance.sh" stop "$PFX_ROOT" >/dev/null 2>&1
    for _ in {1..100}; do
      "$TOOLS/postfix_instance.sh" status "$PFX_ROOT" >/dev/null 2>&1 || break
      sleep 0.1
    done
  fi
  if [[ -n $SINK_PID ]]; then
    kill "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
  fi
  if [[ -n $WORK ]]; then
    [[ -f $WORK/tidings.log ]] && cp "$WORK/tidings.log" "$OUT_DIR/compare-$STAMP.tidings.log"
    if [[ $KEEP_WORK == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- measuring
# Messages that have reached the far side so far, by either system: smtp-sink's counter.
delivered_count() {
  local n
  n=$(tail -c 512 "$WORK/sink.log" 2>/dev/null | tr '\r' '\n' |
    grep -o 'mesg=[0-9]*' | tail -n 1 | cut -d= -f2) || true
  echo "${n:-0}"
}

# settle_compaction: Tidings compacts its Redis file right after a burst is delivered
# (docs/operations.md), within a second; wait for that to end, so that it runs in the
# quiet between runs as it would in production, not in the next run, Postfix's.
settle_compaction() {
  local sock="$WORK/tidings-data/redis/redis.sock"
  command -v redis-cli >/dev/null && [[ -S $sock ]] || return 0
  sleep 1.5
  for _ in {1..600}; do # at most 60 s
    redis-cli -s "$sock" info persistence 2>/dev/null |
      grep -q '^aof_rewrite_in_progress:1' || return 0
    sleep 0.1
  done
}

# run_one SYSTEM SIZE MESSAGES REP: one smtpload run, then wait until the system has
# delivered what it accepted, so its queue runner does not eat CPU during the next
# run. Appends the JSON line (plus delivered / drain_s) to $OUT.
run_one() {
  local system=$1 size=$2 n=$3 rep=$4 before line accepted
  local -a target
  if [[ $system == postfix ]]; then
    target=(--port "$PFX_PORT")
  else
    if ! kill -0 "$TIDINGS_PID" 2>/dev/null; then
      tail -n 20 "$WORK/tidings.log" >&2 || true
      die "tidings serve has exited (log above)"
    fi
    target=(--port "$TIDINGS_SMTP" --starttls --auth "$TIDINGS_LOGIN:$TIDINGS_PASSWORD")
  fi
  before=$(delivered_count "$system")
  local t0
  t0=$(date +%s.%N)
  # In the background and waited for: a trap interrupts `wait` at once, whereas bash
  # would hold Ctrl-C until a foreground run ended. smtpload exits 1 when any
  # transaction had an error; its JSON line still says so.
  "${LOAD[@]}" --host 127.0.0.1 "${target[@]}" \
    -c "$CONC" -n "$n" --size "$size" --uvloop --max-seconds 120 \
    --from "$MAIL_FROM" --to "$RCPT_TO" --label "$system/$size/$rep" >"$WORK/run.json" &
  LOAD_PID=$!
  wait "$LOAD_PID" || true
  LOAD_PID=""
  line=$(tail -n 1 "$WORK/run.json")
  [[ $line == "{"* ]] || die "smtpload gave no result for $system size $size rep $rep"
  accepted=$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["accepted"])' "$line")

  # Bounded twice: DRAIN_TIMEOUT in all, and 30 s without any progress (a worker that
  # delivers nothing should not cost the full timeout on every run).
  local start=$SECONDS delivered=0 last=-1 moved=$SECONDS t_last
  t_last=$(date +%s.%N)
  while :; do
    delivered=$(($(delivered_count "$system") - before))
    if ((delivered != last)); then last=$delivered moved=$SECONDS t_last=$(date +%s.%N); fi
    ((delivered >= accepted)) && break
    if ((SECONDS - start >= DRAIN_TIMEOUT || SECONDS - moved >= 30)); then
      say "  warning: $system delivered only $delivered of $accepted after $((SECONDS - start))s; going on" >&2
      break
    fi
    sleep 0.1
  done

  [[ $system == tidings ]] && settle_compaction

  # End to end: everything delivered, divided by the time from the first message sent
  # to the last one seen delivered (to within the 0.1 s poll).
  record "$line" "$delivered" "$((SECONDS - start))" "$("$PYTHON" -c "print($t_last - $t0)")"
}

# record JSON DELIVERED DRAIN_S: add what the line's label encodes and the drain figures,
# append the line to $OUT and print one progress line.
record() {
  "$PYTHON" - "$@" >>"$OUT" <<'PY'
import json, sys

r = json.loads(sys.argv[1])
r["system"], _, r["rep"] = r["label"].split("/")
r["delivered"], r["drain_s"] = int(sys.argv[2]), int(sys.argv[3])
r["e2e_s"] = round(float(sys.argv[4]), 3)
r["delivered_per_s"] = round(r["delivered"] / r["e2e_s"], 1) if r["e2e_s"] > 0 else None
print(json.dumps(r))
print(f"  {r['system']:8} {r['size']:>6} B  rep {r['rep']:>6}: {r['msgs_per_s']} msgs/s, "
      f"delivered {r['delivered_per_s']} msgs/s end to end, "
      f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, accepted {r['accepted']}, "
      f"rejected {r['rejected']}, errors {r['errors']}, delivered {r['delivered']}",
      file=sys.stderr)
PY
}

summarize() {
  "$PYTHON" - "$OUT" "$MODE" <<'PY'
import json, statistics, sys

E2E = sys.argv[2] == "e2e"
# The issues' targets: accepted msgs/s (accept mode), delivered msgs/s (e2e, 5 KB).
TARGET = {5120: 1.5} if E2E else {5120: 2.0, 102400: 1.0}
RATE = "delivered_per_s" if E2E else "msgs_per_s"
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in runs if r["rep"] != "warmup"]

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def fmt(x, spec):
    return format(x, spec) if x is not None else format("-", ">" + spec.split(".")[0])

print()
print(f"{'size':>7}  {'system':8} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
      f"{'accepted':>9} {'rejected':>9} {'errors':>7} {'delivered':>10}")
for size in sorted({r["size"] for r in runs}):
    rates = {}
    for system in ("postfix", "tidings"):
        rs = [r for r in runs if r["size"] == size and r["system"] == system]
        if not rs:
            continue
        rates[system] = med(r.get(RATE) for r in rs)
        tot = {k: sum(r[k] for r in rs) for k in ("accepted", "rejected", "errors", "delivered")}
        print(f"{size:>7}  {system:8} {fmt(rates[system], '8.1f')} "
              f"{fmt(med(r['p50_ms'] for r in rs), '8.2f')} {fmt(med(r['p99_ms'] for r in rs), '8.2f')} "
              f"{tot['accepted']:>9} {tot['rejected']:>9} {tot['errors']:>7} {tot['delivered']:>10}")
        odd = {c: n for r in rs for c, n in r["reply_codes"].items() if c != "250"}
        kinds = {k: n for r in rs for k, n in r["error_kinds"].items()}
        if odd or kinds:
            print(f"{'':9} {system} non-250 replies {odd or '{}'}, errors {kinds or '{}'}")
    if rates.get("postfix") and rates.get("tidings") is not None:
        ratio = rates["tidings"] / rates["postfix"]
        goal = TARGET.get(size)
        verdict = "" if goal is None else (
            f" (target >= {goal:g}x: {'met' if ratio >= goal else 'NOT met'})")
        print(f"{size:>7}  ratio tidings/postfix {ratio:.2f}x{verdict}")
print()
print(f"msgs/s: {'delivered end to end' if E2E else 'accepted'}; medians over the reps; "
      "accepted/rejected/errors/delivered are totals over the reps")
PY
}

# ---------------------------------------------------------------- main
main() {
  check_prerequisites
  # Only the settings below apply: a TIDINGS_* from the caller's shell (a production
  # TIDINGS_REDIS_URL, say) must not leak into the bench.
  local v
  while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^TIDINGS_' || true)

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$OUT_DIR"
  WORK=$(mktemp -d /tmp/tidings-bench.XXXXXX)
  chmod 755 "$WORK" # Postfix daemons (user postfix) must reach the queue below it

  start_sink_and_postfix
  if wants tidings; then start_tidings; fi

  local size n rep system
  for size in "${SIZES[@]}"; do
    if ((size == 5120)); then n=$N5K; else n=$N100K; fi
    say "size $size B: $REPS reps of $n messages, $CONC sessions"
    for system in postfix tidings; do
      wants "$system" || continue
      # One short unrecorded-in-the-table run per system: process start-up, TLS
      # session set-up and caches are not what we compare.
      if ((WARMUP > 0)); then run_one "$system" "$size" "$WARMUP" warmup; fi
    done
    for ((rep = 1; rep <= REPS; rep++)); do
      for system in postfix tidings; do # alternate, so drift hits both alike
        if wants "$system"; then run_one "$system" "$size" "$n" "$rep"; fi
      done
    done
  done
  summarize
  say "raw JSON lines: $OUT"
}

main "$@"
