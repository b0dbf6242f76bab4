# ---- common functions -------------------------------------------------------
LOG=$ROOT/var/log/driftless-bootstrap.log
STATE=$ROOT/var/lib/driftless
SHARED=$ROOT/opt/driftless/shared
IMDS=${DRIFTLESS_IMDS_ENDPOINT:-http://169.254.169.254}
mkdir -p "${LOG%/*}" "$STATE"
exec >>"$LOG" 2>&1
STEP=start

log() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "error: $*"; exit 1; }
step() { STEP=$1; log "== $1"; }
have() { command -v "$1" >/dev/null 2>&1; }
sandboxed() { [ -n "$SANDBOX" ]; }

on_exit() {
	local rc=$?
	trap - EXIT
	if [ "$rc" -ne 0 ]; then
		log "bootstrap failed in step $STEP (exit $rc)"
		failed "$rc" || true
	fi
	exit "$rc"
}
trap on_exit EXIT

# retry N CMD...: run CMD up to N times, 5 s apart.
retry() {
	local n=$1 i
	shift
	for ((i = 1; i <= n; i++)); do
		"$@" && return 0
		[ "$i" -lt "$n" ] && sleep 5
	done
	return 1
}

# imds PATH: one instance metadata value (IMDSv2).
imds() {
	local token
	token=$(curl -fsS --noproxy '*' --retry 5 --retry-connrefused -X PUT \
		-H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS/latest/api/token")
	curl -fsS --noproxy '*' --retry 5 --retry-connrefused \
		-H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

# json_string TEXT: TEXT as a JSON string.
json_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\t'/ }
	s=$(printf '%s' "$s" | tr -d '\000-\037')
	printf '"%s"' "$s"
}

# json_field NAME JSON: the string value of NAME in a flat JSON object.
json_field() {
	printf '%s\n' "$2" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" | head -n 1
}

# write_file PATH [MODE]: write standard input to PATH when it differs;
# CHANGED says whether it did.
write_file() {
	local path=$1 mode=${2:-0644} tmp
	mkdir -p "${path%/*}"
	tmp=$(mktemp "$path.XXXXXX")
	cat >"$tmp"
	chmod "$mode" "$tmp"
	if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
		rm -f "$tmp"
		CHANGED=0
	else
		mv -f "$tmp" "$path"
		CHANGED=1
	fi
}

identity() {
	INSTANCE_ID=$(imds instance-id)
	LOCAL_IP=$(imds local-ipv4)
	NODE=$(hostname -s)
	local mac
	mac=$(imds mac)
	SUBNET_CIDR=$(imds "network/interfaces/macs/$mac/subnet-ipv4-cidr-block")
	VPC_CIDRS=$(imds "network/interfaces/macs/$mac/vpc-ipv4-cidr-blocks" | tr '\n' ' ')
}

# proxy: one setting for the shell, every systemd service (the scheduler's
# daemons among them) and the package manager.
setup_proxy() {
	[ -n "$PROXY" ] || return 0
	local no="localhost,127.0.0.1,169.254.169.254,.internal,$LOCAL_IP${HEAD_ADDRESS:+,$HEAD_ADDRESS}" c
	for c in $VPC_CIDRS; do no="$no,$c"; done
	export http_proxy=$PROXY https_proxy=$PROXY no_proxy=$no
	printf 'export http_proxy=%s https_proxy=%s no_proxy=%s\n' "$PROXY" "$PROXY" "$no" | write_file "$ROOT/etc/profile.d/driftless-proxy.sh"
	printf '[Manager]\nDefaultEnvironment="http_proxy=%s" "https_proxy=%s" "no_proxy=%s"\n' "$PROXY" "$PROXY" "$no" |
		write_file "$ROOT/etc/systemd/system.conf.d/driftless-proxy.conf"
	if [ "$CHANGED" = 1 ] && ! sandboxed; then systemctl daemon-reexec; fi
	pkg_proxy
}

# fetch URL FILE: s3:// with the instance role's credentials (curl signs
# the request), http:// and https:// as they are.
fetch() {
	local url=$1 out=$2
	case $url in
	s3://*) s3_get "${url#s3://}" "$out" ;;
	http://* | https://*) curl -fsSL --retry 5 -o "$out" "$url" ;;
	*) die "cannot fetch $url: not s3://, https:// or http://" ;;
	esac
}

# aws_curl SERVICE CURL-ARGS...: a request signed with the instance role's
# credentials (curl signs it).
aws_curl() {
	local service=$1 role creds
	shift
	role=$(imds iam/security-credentials/ | head -n 1)
	creds=$(imds "iam/security-credentials/$role")
	curl -fsS --retry 5 --aws-sigv4 "aws:amz:$REGION:$service" \
		--user "$(json_field AccessKeyId "$creds"):$(json_field SecretAccessKey "$creds")" \
		-H "x-amz-security-token: $(json_field Token "$creds")" "$@"
}

s3_get() {
	local bucket=${1%%/*} key=${1#*/} url
	url=${DRIFTLESS_S3_ENDPOINT:-https://$bucket.s3.$REGION.amazonaws.com}
	if [ -n "${DRIFTLESS_S3_ENDPOINT:-}" ]; then url=$url/$bucket; fi
	aws_curl s3 -o "$2" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$url/$key"
}

# site_script NAME URL ARGS...: fetch and run a site script once per
# instance; a failure fails the bootstrap.
site_script() {
	local name=$1 url=$2 file
	shift 2
	[ -n "$url" ] || return 0
	if [ -e "$STATE/$name.done" ]; then
		log "$name already ran"
		return 0
	fi
	file=$STATE/$name
	fetch "$url" "$file"
	chmod 0700 "$file"
	log "running $name: $url $*"
	"$file" "$@" || die "$name script $url exited with status $?"
	touch "$STATE/$name.done"
}

# install_packages NAME...: install what is missing.
install_packages() {
	local missing=() p
	for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
	[ "${#missing[@]}" -gt 0 ] || return 0
	if sandboxed; then
		log "sandbox: not installing ${missing[*]}"
		return 0
	fi
	if [ ! -e "$STATE/repos.done" ]; then
		pkg_repos
		touch "$STATE/repos.done"
	fi
	log "installing ${missing[*]}"
	retry 3 pkg_install "${missing[@]}"
}

# need PROGRAM REASON: fail with REASON unless PROGRAM is installed.
need() {
	have "$1" || [ -x "/usr/sbin/$1" ] || die "$2"
}

# service UNIT [SANDBOX-COMMAND...]: enable and start a systemd unit, or
# restart it when RESTART=1; in the sandbox run the command instead when
# its pid file (PIDFILE) names no live process.
service() {
	local unit=$1
	shift
	if sandboxed; then
		if [ -n "${PIDFILE:-}" ] && [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
			if [ "${RESTART:-0}" = 1 ]; then
				kill "$(cat "$PIDFILE")"
				wait_for 30 gone "$PIDFILE"
			else
				return 0
			fi
		fi
		[ "$#" -gt 0 ] || return 0
		log "sandbox: starting $*"
		"$@"
		return 0
	fi
	systemctl enable "$unit"
	if [ "${RESTART:-0}" = 1 ]; then
		systemctl restart "$unit"
	else
		systemctl start "$unit"
	fi
}

gone() { ! { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }; }

# wait_for SECONDS CMD...: poll CMD every second.
wait_for() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 1
	done
	return 1
}

# boot_unit: run the instance's current user data again at every boot, so
# a reboot mounts, exports and starts everything again (and a changed
# user data takes effect). cloud-init itself runs it on the first boot only.
boot_unit() {
	sandboxed && return 0
	printf '[Unit]\nAfter=network-online.target cloud-final.service\n[Service]\nType=oneshot\nExecStart=/bin/bash -c %s\n[Install]\nWantedBy=multi-user.target\n' \
		"'t=\$\$(curl -sX PUT -H \"X-aws-ec2-metadata-token-ttl-seconds: 60\" $IMDS/latest/api/token); curl -s -H \"X-aws-ec2-metadata-token: \$\$t\" $IMDS/latest/user-data | bash'" |
		write_file /etc/systemd/system/driftless-bootstrap.service
	systemctl daemon-reload
	systemctl enable driftless-bootstrap.service
}

# scheduler_env NAME=VALUE...: what a login shell and the fleet loop (over
# SSH) need to reach the scheduler.
scheduler_env() {
	printf '%s\n' "$@" | write_file "$ROOT/etc/driftless/scheduler.env"
	printf 'set -a; . /etc/driftless/scheduler.env; set +a\n' | write_file "$ROOT/etc/profile.d/driftless-scheduler.sh"
}

# ssm ACTION JSON: an SSM API call.
ssm() {
	aws_curl ssm "${DRIFTLESS_SSM_ENDPOINT:-https://ssm.$REGION.amazonaws.com}/" -H "X-Amz-Target: AmazonSSM.$1" \
		-H 'Content-Type: application/x-amz-json-1.1' --data "$2"
}

# publish_host_key: the head node's SSH host key goes to $PARAM/host-key,
# where the daemon learns to trust this head node. Only this instance may
# write it, and that policy may take a minute to apply: retry.
publish_host_key() {
	local f key=""
	for f in /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_rsa_key.pub; do
		if [ -s "$f" ]; then key=$(cut -d' ' -f1,2 "$f") && break; fi
	done
	if [ -z "$key" ] && sandboxed; then log "sandbox: no SSH host key to publish"; return 0; fi
	[ -n "$key" ] || die "no SSH host key in /etc/ssh"
	retry 24 ssm PutParameter "{\"Name\":\"$PARAM/host-key\",\"Value\":\"$key\",\"Type\":\"String\",\"Overwrite\":true}" >/dev/null ||
		die "cannot write the host key to SSM parameter $PARAM/host-key"
}

# save_self: keep this script where the head node's units run its modes.
save_self() { write_file "$STATE/bootstrap.sh" 0700 <"${BASH_SOURCE[0]}"; }

# join_watch: on the head node, run this script's "join" mode whenever a
# compute node asks to join by writing into $JOIN (a systemd path unit on
# the NFS-exported directory).
join_watch() {
	mkdir -p "$JOIN/done"
	save_self
	sandboxed && return 0
	printf '[Path]\nDirectoryNotEmpty=%s\n[Install]\nWantedBy=multi-user.target\n' "$JOIN" | write_file /etc/systemd/system/driftless-join.path
	printf '[Service]\nType=oneshot\nExecStart=/bin/bash %s/bootstrap.sh join\n' "$STATE" | write_file /etc/systemd/system/driftless-join.service
	systemctl daemon-reload
	systemctl enable --now driftless-join.path
}

# ask_join: on a compute node, ask the head node to add this node and wait
# until it has. In the sandbox no path unit watches: run the head node's
# join mode directly.
ask_join() {
	[ -e "$JOIN/done/$NODE" ] && return 0
	printf '%s %s\n' "$INSTANCE_ID" "$(nproc)" | write_file "$JOIN/$NODE"
	if sandboxed; then DRIFTLESS_SANDBOX=$DRIFTLESS_SANDBOX_SERVER bash "$DRIFTLESS_SANDBOX_SERVER/var/lib/driftless/bootstrap.sh" join; fi
	wait_for 300 test -e "$JOIN/done/$NODE" || die "the head node did not add $NODE to the scheduler"
}
