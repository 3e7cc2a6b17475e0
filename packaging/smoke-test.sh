#!/usr/bin/env bash
# The fresh-machine flow, run by .ci/run after `make package` (root,
# Debian): install the .deb with dpkg and use what it installed as a new
# user would. Then `make install` into a DESTDIR, the .rpm's contents, and
# the container image's build steps. Every step prints what it saw.
#
# systemd does not run here, so the unit is run the way systemd would run
# it: its ExecStart with /etc/default/pinspect's arguments, as a user that
# is not root and holds only the unit's AmbientCapabilities (setpriv).
#
# The package is removed at the end. Usage: packaging/smoke-test.sh
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
check() { # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
show() { sed 's/^/      | /'; } # indent what a step printed

tmp=$(mktemp -d)
# The agents below run as an unprivileged uid and must reach their socket
# and record directories under $tmp: mktemp's 0700 would stop them at the
# door (bind: permission denied). Traverse only, no listing.
chmod 0711 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  dpkg -P pinspect >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

deb=$(ls dist/pinspect_*.deb 2>/dev/null | head -n 1)
rpm=$(ls dist/pinspect-*.rpm 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
  echo "no dist/pinspect_*.deb: run make package first"
  exit 1
fi
version=$(dpkg-deb -f "$deb" Version)
version=${version%-*} # the package release (-1) is not pinspect's
echo "== $deb (pinspect $version)"

# --- install -------------------------------------------------------------
dpkg -P pinspect >/dev/null 2>&1
check "dpkg -i" dpkg -i "$deb"
dpkg -L pinspect | grep -E '^/(usr|etc)/.*[^/]$' | grep -v '^/usr/share/doc' | show

out=$(pinspect --version)
echo "$out" | show
check "pinspect --version names the package's version" \
  grep -Eq "^pinspect ${version//+/\\+} \(commit [0-9a-f]{40}(-modified)?, go[0-9.]+, linux/[a-z0-9]+\)$" <<<"$out"

check "the JSON schemas are installed" test -s /usr/share/pinspect/schema/snapshot.schema.json
check "man -w pinspect" test "$(man -w pinspect 2>&1)" = /usr/share/man/man1/pinspect.1.gz
page=$(MANWIDTH=80 man pinspect-serve 2>/dev/null)
sed -n '1,4p' <<<"$page" | show
check "man pinspect-serve renders its options" grep -q -- '--web.config.file' <<<"$page"

out=$(pinspect ps --pid 1,$$ 2>&1)
echo "$out" | show
check "pinspect ps" grep -q '^ *PID  *PPID USER' <<<"$out"

# --- completion of a live pid, through the installed bash script ---------
sleep 600 &
sleeper=$!
pids+=("$sleeper")
complete_line() { # the candidates bash offers for the words given
  bash -c 'source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/pinspect
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    __start_pinspect pinspect "${@: -1}" "${@: -2:1}" 2>/dev/null
    printf "%s\n" "${COMPREPLY[@]}"' complete "$@"
}
out=$(complete_line pinspect show "${sleeper:0:$((${#sleeper} - 1))}")
echo "pinspect show ${sleeper:0:$((${#sleeper} - 1))}<TAB>:" | show
head -n 5 <<<"$out" | show
check "bash completes a live pid for show" grep -qx "$sleeper" <<<"$out"
out=$(pinspect __complete show "$sleeper" 2>/dev/null)
head -n 1 <<<"$out" | show
check "the pid's description is its comm and user" grep -qx "$sleeper	sleep (root)" <<<"$out"

# --- the systemd unit, run as systemd would ------------------------------
unit=/usr/lib/systemd/system/pinspect.service
unitval() { sed -n "s/^$1=//p" "$unit" | head -n 1; }
exec_start=$(unitval ExecStart)
caps=$(unitval AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ \+/,+/g; s/^/+/')
PINSPECT_SERVE_ARGS=
# shellcheck disable=SC1091
. /etc/default/pinspect
# Where it listens: a free port chosen by the kernel (port 0) on loopback,
# and a unix socket, whose root peer is served in full (the TCP client,
# unauthenticated, sees what an unprivileged user could read).
sockdir="$tmp/run"
mkdir -p "$sockdir" && chown 61184:61184 "$sockdir"
sock="$sockdir/pinspect.sock"
cmd="${exec_start/\$PINSPECT_SERVE_ARGS/$PINSPECT_SERVE_ARGS} --interval 1s --web.listen-address 127.0.0.1:0 --web.listen-address unix:$sock"
echo "ExecStart as uid 61184 with capabilities $caps: $cmd" | show
# DynamicUser: a uid from systemd's dynamic range with no passwd entry.
# shellcheck disable=SC2086
setpriv --reuid=61184 --regid=61184 --clear-groups --no-new-privs \
  --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --bounding-set=-all,"$caps" \
  $cmd 2>"$tmp/serve.log" &
agent=$!
pids+=("$agent")
url=
for _ in $(seq 1 60); do
  url=$(grep -o 'url=http://[0-9.:]*/' "$tmp/serve.log" | head -n 1 | sed 's/^url=//')
  if [ -n "$url" ] && curl -fsS "${url}metrics" 2>/dev/null | grep -q '^pinspect_frames_total [1-9]'; then break; fi
  sleep 0.5
done
check "the unit's agent starts and scans" test -n "$url"
check "/-/ready answers 200 once it has scanned" curl -fsS -o /dev/null "${url}-/ready"
check "/-/healthy answers 200" curl -fsS -o /dev/null "${url}-/healthy"
metrics=$(curl -fsS "${url}metrics")
grep -E '^pinspect_(build_info|events_live|context_switches_source_info|processes\{state="(running|sleeping)"\})' <<<"$metrics" | show
check "curl /metrics: pinspect_build_info of this version" \
  grep -q "^pinspect_build_info{.*version=\"$version\"} 1$" <<<"$metrics"
check "the unit's CAP_NET_ADMIN gives the connector" grep -qx 'pinspect_events_live 1' <<<"$metrics"
check "the unit's CAP_NET_ADMIN gives taskstats" grep -qx 'pinspect_context_switches_source_info{source="taskstats"} 1' <<<"$metrics"
doc=$(curl -fsS --unix-socket "$sock" "http://pinspect/api/v1/processes/$sleeper")
check "the unit's CAP_SYS_PTRACE reads root's maps as a non-root user (root on the unix socket)" \
  grep -q '"pss_bytes"' <<<"$doc"
doc=$(curl -fsS "${url}api/v1/processes/$sleeper")
check "an unauthenticated TCP client does not get root's maps" \
  bash -c '! grep -q "\"pss_bytes\"" <<<"$1"' _ "$doc"
kill -TERM "$agent"
wait "$agent"
check "the agent stops cleanly on SIGTERM" test $? -eq 0
tail -n 3 "$tmp/serve.log" | show

# --- the recorder's unit, run as systemd would ---------------------------
unit=/usr/lib/systemd/system/pinspect-record.service
if [ -e "$unit" ]; then
  exec_start=$(unitval ExecStart)
  caps=$(unitval AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ \+/,+/g; s/^/+/')
  state=$(sed -n 's/^StateDirectory=//p' "$unit")
  PINSPECT_RECORD_ARGS=
  # shellcheck disable=SC1091
  . /etc/default/pinspect
  # StateDirectory: systemd makes /var/lib/$state, owned by the dynamic
  # user; here a scratch directory stands in for it.
  recdir="$tmp/var-lib-$state"
  mkdir -p "$recdir" && chown 61184:61184 "$recdir" && chmod 0750 "$recdir"
  cmd="${exec_start/\$PINSPECT_RECORD_ARGS/$PINSPECT_RECORD_ARGS}"
  cmd="${cmd/--dir \/var\/lib\/$state/--dir $recdir} --interval 1s"
  echo "ExecStart as uid 61184 with capabilities $caps: $cmd" | show
  # shellcheck disable=SC2086
  setpriv --reuid=61184 --regid=61184 --clear-groups --no-new-privs \
    --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --bounding-set=-all,"$caps" \
    $cmd 2>"$tmp/record.log" &
  recorder=$!
  pids+=("$recorder")
  for _ in $(seq 1 60); do
    rows=$(pinspect dump system --dir "$recdir" 2>/dev/null | wc -l)
    [ "$rows" -ge 3 ] && break
    sleep 0.5
  done
  kill -TERM "$recorder"
  wait "$recorder"
  check "the recorder's unit stops cleanly on SIGTERM" test $? -eq 0
  rows=$(pinspect dump system --dir "$recdir" | wc -l)
  pinspect dump system --dir "$recdir" | tail -n 1 | cut -c1-160 | show
  check "the recorder's unit recorded samples ($rows)" test "$rows" -ge 3
fi

# --- make install into a DESTDIR -----------------------------------------
make -s install DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/install.log" 2>&1 || cat "$tmp/install.log"
for f in /usr/bin/pinspect /usr/share/man/man1/pinspect.1.gz /usr/share/man/man1/pinspect-show.1.gz \
  /usr/share/bash-completion/completions/pinspect /usr/share/zsh/site-functions/_pinspect \
  /usr/share/fish/vendor_completions.d/pinspect.fish; do
  check "make install DESTDIR=... PREFIX=/usr: $f" test -s "$tmp/root$f"
done

# --- the .rpm -------------------------------------------------------------
if command -v rpm >/dev/null; then
  list=$(rpm -qpl "$rpm" 2>/dev/null)
  for f in /usr/bin/pinspect /usr/share/man/man1/pinspect.1.gz /usr/lib/systemd/system/pinspect.service \
    /usr/share/bash-completion/completions/pinspect /etc/default/pinspect; do
    check "the .rpm holds $f" grep -qx "$f" <<<"$list"
  done
else
  bad "rpm(8) not installed: the .rpm was not inspected (.ci/run installs rpm)"
fi

# --- the container image's build steps -----------------------------------
if packaging/docker/build.sh "$tmp/image" >"$tmp/image.log" 2>&1; then
  show <"$tmp/image.log"
  check "the image's binary is static (no ELF interpreter)" bash -c "! readelf -l '$tmp/image/usr/bin/pinspect' | grep -q INTERP"
  check "the image's binary runs" bash -c "'$tmp/image/usr/bin/pinspect' ps --pid 1 >/dev/null"
else
  show <"$tmp/image.log"
  bad "packaging/docker/build.sh"
fi

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
