#!/bin/bash
# Driftless compute node of cluster alpha: sge on Ubuntu 24.04. docs/nodes.md
# Logs to /var/log/driftless-bootstrap.log; idempotent, runs at every boot.
set -euo pipefail
shopt -s lastpipe
umask 022
SANDBOX=${!DRIFTLESS_SANDBOX:-}
ROOT=$SANDBOX

CLUSTER='alpha'
STACK='driftless-alpha'
REGION='us-east-1'
PROXY='http://proxy.example.com:3128'
QUEUE='compute'
HEAD_ADDRESS='${HeadNode.PrivateIp}'
PRE_INSTALL='s3://site-bootstrap/pre.sh'
# shellcheck disable=SC2016
PRE_INSTALL_ARGS=('--site' 'it'\''s ${!HOME}' )
POST_INSTALL='https://example.com/post.sh'
# shellcheck disable=SC2016
POST_INSTALL_ARGS=()
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/slurm/bin:/opt/slurm/sbin

LOG=$ROOT/var/log/driftless-bootstrap.log
STATE=$ROOT/var/lib/driftless
SHARED=$ROOT/opt/driftless/shared
IMDS=${!DRIFTLESS_IMDS_ENDPOINT:-http://169.254.169.254}
mkdir -p "${!LOG%/*}" "$STATE"
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

retry() {
local n=$1 i
shift
for ((i = 1; i <= n; i++)); do
"$@" && return 0
[ "$i" -lt "$n" ] && sleep 5
done
return 1
}

imds() {
local token
token=$(curl -fsS --noproxy '*' --retry 5 --retry-connrefused -X PUT \
-H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$IMDS/latest/api/token")
curl -fsS --noproxy '*' --retry 5 --retry-connrefused \
-H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}

json_field() {
printf '%s\n' "$2" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" | head -n 1
}

write_file() {
local path=$1 mode=${!2:-0644} tmp
mkdir -p "${!path%/*}"
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

setup_proxy() {
[ -n "$PROXY" ] || return 0
local no="localhost,127.0.0.1,169.254.169.254,.internal,$LOCAL_IP${!HEAD_ADDRESS:+,$HEAD_ADDRESS}" c
for c in $VPC_CIDRS; do no="$no,$c"; done
export http_proxy=$PROXY https_proxy=$PROXY no_proxy=$no
printf 'export http_proxy=%s https_proxy=%s no_proxy=%s\n' "$PROXY" "$PROXY" "$no" | write_file "$ROOT/etc/profile.d/driftless-proxy.sh"
printf '[Manager]\nDefaultEnvironment="http_proxy=%s" "https_proxy=%s" "no_proxy=%s"\n' "$PROXY" "$PROXY" "$no" |
write_file "$ROOT/etc/systemd/system.conf.d/driftless-proxy.conf"
if [ "$CHANGED" = 1 ] && ! sandboxed; then systemctl daemon-reexec; fi
pkg_proxy
}

fetch() {
local url=$1 out=$2
case $url in
s3://*) s3_get "${!url#s3://}" "$out" ;;
http://* | https://*) curl -fsSL --retry 5 -o "$out" "$url" ;;
*) die "cannot fetch $url: not s3://, https:// or http://" ;;
esac
}

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
local bucket=${!1%%/*} key=${!1#*/} url
url=${!DRIFTLESS_S3_ENDPOINT:-https://$bucket.s3.$REGION.amazonaws.com}
if [ -n "${!DRIFTLESS_S3_ENDPOINT:-}" ]; then url=$url/$bucket; fi
aws_curl s3 -o "$2" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$url/$key"
}

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

install_packages() {
local missing=() p
for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
[ "${!#missing[@]}" -gt 0 ] || return 0
if sandboxed; then
log "sandbox: not installing ${!missing[*]}"
return 0
fi
if [ ! -e "$STATE/repos.done" ]; then
pkg_repos
touch "$STATE/repos.done"
fi
log "installing ${!missing[*]}"
retry 3 pkg_install "${!missing[@]}"
}

need() {
have "$1" || [ -x "/usr/sbin/$1" ] || die "$2"
}

service() {
local unit=$1
shift
if sandboxed; then
if [ -n "${!PIDFILE:-}" ] && [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
if [ "${!RESTART:-0}" = 1 ]; then
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
if [ "${!RESTART:-0}" = 1 ]; then
systemctl restart "$unit"
else
systemctl start "$unit"
fi
}

gone() { ! { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }; }

wait_for() {
local n=$1 i
shift
for ((i = 0; i < n; i++)); do
"$@" && return 0
sleep 1
done
return 1
}

boot_unit() {
sandboxed && return 0
printf '[Unit]\nAfter=network-online.target cloud-final.service\n[Service]\nType=oneshot\nExecStart=/bin/bash -c %s\n[Install]\nWantedBy=multi-user.target\n' \
"'t=\$\$(curl -sX PUT -H \"X-aws-ec2-metadata-token-ttl-seconds: 60\" $IMDS/latest/api/token); curl -s -H \"X-aws-ec2-metadata-token: \$\$t\" $IMDS/latest/user-data | bash'" |
write_file /etc/systemd/system/driftless-bootstrap.service
systemctl daemon-reload
systemctl enable driftless-bootstrap.service
}

ask_join() {
[ -e "$JOIN/done/$NODE" ] && return 0
printf '%s %s\n' "$INSTANCE_ID" "$(nproc)" | write_file "$JOIN/$NODE"
if sandboxed; then DRIFTLESS_SANDBOX=$DRIFTLESS_SANDBOX_SERVER bash "$DRIFTLESS_SANDBOX_SERVER/var/lib/driftless/bootstrap.sh" join; fi
wait_for 300 test -e "$JOIN/done/$NODE" || die "the head node did not add $NODE to the scheduler"
}

pkg_repos() {
apt-get update -q
}
pkg_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; }
pkg_installed() { dpkg-query -W -f='${!Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
pkg_proxy() {
printf 'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' "$PROXY" "$PROXY" |
write_file "$ROOT/etc/apt/apt.conf.d/90driftless-proxy"
}

mount_efs() {
local dir=$1 src=$2.efs.$REGION.amazonaws.com:/
if sandboxed; then mkdir -p "$ROOT$dir"; log "sandbox: $dir is a directory, not $src"; return 0; fi
mkdir -p "$dir"
grep -q " $dir nfs4 " /etc/fstab ||
echo "$src $dir nfs4 nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail 0 0" >>/etc/fstab
mountpoint -q "$dir" || retry 60 mount "$dir"
}

mount_nfs() {
local dir=$1
if sandboxed; then
local server=${!DRIFTLESS_SANDBOX_SERVER:?the sandbox needs DRIFTLESS_SANDBOX_SERVER}
[ -d "$server$dir" ] || die "head node exports no $dir"
mkdir -p "$(dirname "$ROOT$dir")"
[ -L "$ROOT$dir" ] || { rm -rf "${!ROOT:?}$dir"; ln -s "$server$dir" "$ROOT$dir"; }
return 0
fi
mkdir -p "$dir"
grep -q " $dir nfs " /etc/fstab || echo "$HEAD_ADDRESS:$dir $dir nfs hard,_netdev,nofail 0 0" >>/etc/fstab
mountpoint -q "$dir" || retry 60 mount "$dir"
}

mount_all() {
mount_nfs /home
mount_nfs /opt/driftless/shared
mount_nfs '/shared'
mount_nfs '/raid'
mount_efs '/efs' 'fs-0123456789abcdef0'
:
}

NOSGE='Ubuntu 24.04 has no Grid Engine package: see headNode.schedulerPreinstalled'
export SGE_ROOT=/var/lib/gridengine SGE_CELL=${!DRIFTLESS_SGE_CELL:-default} SGE_QMASTER_PORT=6444 SGE_EXECD_PORT=6445
CELL_DIR=$SGE_ROOT/$SGE_CELL
SGE_SPOOL=$ROOT/var/spool/gridengine/$SGE_CELL
JOIN=$SHARED/sge-join

scheduler_compute() {
need sge_execd "$NOSGE"
[ -s "$SHARED/sge-common/act_qmaster" ] || die "the head node shares no Grid Engine cell"
mkdir -p "$CELL_DIR/common"
local f
for f in "$SHARED"/sge-common/*; do
write_file "$CELL_DIR/common/${!f##*/}" 0644 <"$f"
done
ask_join
PIDFILE=$SGE_SPOOL/execd/$NODE/execd.pid
sandboxed && PIDFILE=${!DRIFTLESS_SANDBOX_SERVER:?}/var/spool/gridengine/$SGE_CELL/execd/$NODE/execd.pid
service gridengine-exec sge_execd
wait_for 120 sh -c "qstat -f -q '${!QUEUE}@$NODE' 2>/dev/null | grep -q '^${!QUEUE}@' && ! qstat -f -q '${!QUEUE}@$NODE' | grep -q ' [a-zA-Z]*u[a-zA-Z]* *\$'" ||
die "queue instance ${!QUEUE}@$NODE did not come up"
log "joined Grid Engine as $NODE in queue $QUEUE"
}

failed() {
printf 'step %s failed (exit %s)\n' "$STEP" "$1" | write_file "$STATE/failed"
rm -f "$STATE/ready"
sandboxed || shutdown -h +10 "driftless bootstrap failed in step $STEP; see $LOG"
}

log "bootstrap of a $QUEUE node of $CLUSTER (stack $STACK) starts"
rm -f "$STATE/failed"
step identity
identity
log "instance $INSTANCE_ID in $REGION, node $NODE, address $LOCAL_IP, subnet $SUBNET_CIDR"
step proxy
setup_proxy
step pre-install
site_script pre-install "$PRE_INSTALL" "${!PRE_INSTALL_ARGS[@]}"
step packages
sandboxed || printf '%s shared/gridengineconfig boolean false\n' gridengine-common gridengine-master gridengine-exec | debconf-set-selections
install_packages curl nfs-common xfsprogs nvme-cli
install_packages gridengine-exec gridengine-client
step mounts
mount_all
step scheduler
scheduler_compute
step post-install
site_script post-install "$POST_INSTALL" "${!POST_INSTALL_ARGS[@]}"
step boot
boot_unit
step ready
date -u +%Y-%m-%dT%H:%M:%SZ | write_file "$STATE/ready"
log "node $NODE ($INSTANCE_ID) is ready in queue $QUEUE"
