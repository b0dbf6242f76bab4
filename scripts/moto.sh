#!/usr/bin/env bash
# moto.sh installs and runs the moto AWS emulator that the integration tests
# talk to. Everything lives inside the repository: the virtual environment in
# .venv/, the server's pid and log files in .cache/moto/.
#
#   scripts/moto.sh install        create .venv and install the pinned packages
#   scripts/moto.sh start [PORT]   start moto_server on 127.0.0.1:PORT (5000)
#   scripts/moto.sh stop           stop the server started by "start"
#   scripts/moto.sh status         say whether it runs and where
#   scripts/moto.sh endpoint       print the endpoint of the running server
#
# Go tests do not need "start": internal/testbed/moto starts a private server
# per test package from .venv/bin/moto_server (or $DRIFTLESS_MOTO_SERVER).
set -euo pipefail

# Pinned versions. Change them here; the stamp file makes "install" redo the
# work when they change and skip it when they do not.
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.driftless-stamp"
cache="$root/.cache/moto"
pidfile="$cache/moto.pid"
portfile="$cache/moto.port"
logfile="$cache/moto.log"
want="moto[server]==$MOTO_VERSION cfn-lint==$CFN_LINT_VERSION"

die() { echo "moto.sh: $*" >&2; exit 1; }

install() {
	if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/moto_server && -x $venv/bin/cfn-lint ]]; then
		return 0
	fi
	command -v python3 >/dev/null || die "python3 not found (Debian: apt-get install python3 python3-venv)"
	if [[ ! -x $venv/bin/python ]]; then
		python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
	fi
	# shellcheck disable=SC2086 # $want is a list of requirement specifiers.
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want
	echo "$want" >"$stamp"
	echo "moto.sh: installed $want into $venv"
}

running_pid() {
	[[ -f $pidfile ]] || return 1
	local pid
	pid=$(cat "$pidfile")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

# ready PORT: true once the server answers its own API.
ready() {
	"$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/moto-api/data.json" % sys.argv[1], timeout=1).read()
PY
}

start() {
	local port=${1:-5000}
	[[ $port =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
	if pid=$(running_pid); then
		echo "moto.sh: already running (pid $pid) on port $(cat "$portfile")"
		return 0
	fi
	[[ -x $venv/bin/moto_server ]] || die "moto_server not installed; run: scripts/moto.sh install"
	mkdir -p "$cache"
	# MOTO_* switches in the environment pass through: moto accepts any key
	# pair, AMI or instance type unless MOTO_ENABLE_KEYPAIR_VALIDATION,
	# MOTO_ENABLE_AMI_VALIDATION or MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION
	# is true.
	nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
	local pid=$!
	echo "$pid" >"$pidfile"
	echo "$port" >"$portfile"
	for _ in $(seq 1 150); do
		if ready "$port"; then
			echo "moto.sh: moto_server running (pid $pid) at http://127.0.0.1:$port"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; die "moto_server exited; log:"$'\n'"$(tail -n 20 "$logfile")"; }
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	rm -f "$pidfile"
	die "moto_server did not answer on port $port within 15s; log in $logfile"
}

stop() {
	local pid
	if ! pid=$(running_pid); then
		rm -f "$pidfile"
		echo "moto.sh: not running"
		return 0
	fi
	kill "$pid"
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidfile" "$portfile"
	echo "moto.sh: stopped (pid $pid)"
}

status() {
	if pid=$(running_pid); then
		echo "moto.sh: running (pid $pid) at http://127.0.0.1:$(cat "$portfile")"
	else
		echo "moto.sh: not running"
		return 1
	fi
}

case ${1:-} in
install) install ;;
start) install; start "${2:-}" ;;
stop) stop ;;
status) status ;;
endpoint) running_pid >/dev/null || die "not running"; echo "http://127.0.0.1:$(cat "$portfile")" ;;
*) echo "usage: $0 install | start [PORT] | stop | status | endpoint" >&2; exit 2 ;;
esac
