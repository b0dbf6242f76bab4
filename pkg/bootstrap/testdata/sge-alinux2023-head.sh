#!/bin/bash
# Driftless head node of cluster alpha: sge on Amazon Linux 2023. docs/nodes.md
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
PARAM='/driftless/alpha/head-node'
QUEUES=('compute' )
LOGIN_USER='hpc'
WAIT_HANDLE='${HeadNodeWaitHandle}'
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

json_string() {
local s=$1
s=${!s//\\/\\\\}
s=${!s//\"/\\\"}
s=${!s//$'\n'/\\n}
s=${!s//$'\t'/ }
s=$(printf '%s' "$s" | tr -d '\000-\037')
printf '"%s"' "$s"
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

scheduler_env() {
printf '%s\n' "$@" | write_file "$ROOT/etc/driftless/scheduler.env"
printf 'set -a; . /etc/driftless/scheduler.env; set +a\n' | write_file "$ROOT/etc/profile.d/driftless-scheduler.sh"
}

ssm() {
aws_curl ssm "${!DRIFTLESS_SSM_ENDPOINT:-https://ssm.$REGION.amazonaws.com}/" -H "X-Amz-Target: AmazonSSM.$1" \
-H 'Content-Type: application/x-amz-json-1.1' --data "$2"
}

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

save_self() { write_file "$STATE/bootstrap.sh" 0700 <"${!BASH_SOURCE[0]}"; }

join_watch() {
mkdir -p "$JOIN/done"
save_self
sandboxed && return 0
printf '[Path]\nDirectoryNotEmpty=%s\n[Install]\nWantedBy=multi-user.target\n' "$JOIN" | write_file /etc/systemd/system/driftless-join.path
printf '[Service]\nType=oneshot\nExecStart=/bin/bash %s/bootstrap.sh join\n' "$STATE" | write_file /etc/systemd/system/driftless-join.service
systemctl daemon-reload
systemctl enable --now driftless-join.path
}

pkg_repos() {
:
}
pkg_install() { dnf install -y -q "$@"; }
pkg_installed() { rpm -q "$1" >/dev/null 2>&1; }
pkg_proxy() {
local f=$ROOT/etc/dnf/dnf.conf
[ -f "$f" ] || printf '[main]\n' >"$f"
sed -e '/^proxy=/d' -e "s|^\[main\]\$|[main]\nproxy=$PROXY|" "$f" | write_file "$f"
}
MDADM_CONF=$ROOT/etc/mdadm.conf

find_device() {
local want=${!1#/dev/} dev name
for dev in "/dev/$want" "/dev/xvd${!want#sd}"; do
if [ -b "$dev" ]; then echo "$dev"; return 0; fi
done
for dev in /dev/nvme*n1; do
[ -b "$dev" ] || continue
name=$(nvme id-ctrl --raw-binary "$dev" 2>/dev/null | dd bs=1 skip=3072 count=32 status=none | tr -d ' \000') || continue
if [ "${!name#/dev/}" = "$want" ]; then echo "$dev"; return 0; fi
done
return 1
}

wait_device() {
local i
for ((i = 0; i < 120; i++)); do
find_device "$1" && return 0
sleep 5
done
die "volume $1 did not appear in 10 minutes"
}

mount_fs() {
local dir=$1 dev=$2 uuid type
if ! blkid -o value -s TYPE "$dev" >/dev/null 2>&1; then
log "formatting $dev for $dir"
mkfs.xfs -q "$dev"
fi
uuid=$(blkid -o value -s UUID "$dev")
type=$(blkid -o value -s TYPE "$dev")
mkdir -p "$dir"
grep -q "^UUID=$uuid " /etc/fstab || echo "UUID=$uuid $dir $type defaults,nofail 0 2" >>/etc/fstab
mountpoint -q "$dir" || mount "$dir"
}
mount_ebs() {
if sandboxed; then mkdir -p "$ROOT$1"; log "sandbox: $1 is a directory, not $2"; return 0; fi
mount_fs "$1" "$(wait_device "$2")"
}

mount_raid() {
local dir=$1 level=$2 md=/dev/md/driftless devs=() d
shift 2
if sandboxed; then mkdir -p "$ROOT$dir"; log "sandbox: $dir is a directory, not RAID $level over $*"; return 0; fi
for d in "$@"; do devs+=("$(wait_device "$d")"); done
if [ ! -e "$md" ]; then
if mdadm --examine "${!devs[0]}" >/dev/null 2>&1; then
mdadm --assemble "$md" "${!devs[@]}"
else
log "creating RAID $level over ${!devs[*]}"
mdadm --create "$md" --run --level="$level" --raid-devices="${!#devs[@]}" --name=driftless "${!devs[@]}"
fi
fi
mdadm --detail --scan | write_file "$MDADM_CONF"
mount_fs "$dir" "$md"
}

mount_efs() {
local dir=$1 src=$2.efs.$REGION.amazonaws.com:/
if sandboxed; then mkdir -p "$ROOT$dir"; log "sandbox: $dir is a directory, not $src"; return 0; fi
mkdir -p "$dir"
grep -q " $dir nfs4 " /etc/fstab ||
echo "$src $dir nfs4 nfsvers=4.1,rsize=1048576,wsize=1048576,hard,timeo=600,retrans=2,noresvport,_netdev,nofail 0 0" >>/etc/fstab
mountpoint -q "$dir" || retry 60 mount "$dir"
}

mount_all() {
mount_ebs '/shared' '/dev/sdf'
mount_raid '/raid' 0 '/dev/sdk' '/dev/sdl'
mount_efs '/efs' '${SharedFileSystem}'
:
}

export_dirs() {
local scope=$VPC_CIDRS d c
mkdir -p "$ROOT/home" "$SHARED"
for d in "$@"; do
for c in $scope; do
printf '%s %s(rw,sync,no_subtree_check,no_root_squash)\n' "$d" "$c"
done
done | write_file "$ROOT/etc/exports.d/driftless.exports"
if sandboxed; then log "sandbox: exports written, not served"; return 0; fi
service nfs-server
exportfs -ra
}

NOSGE='Amazon Linux 2023 has no Grid Engine package: see headNode.schedulerPreinstalled'
export SGE_ROOT=/var/lib/gridengine SGE_CELL=${!DRIFTLESS_SGE_CELL:-default} SGE_QMASTER_PORT=6444 SGE_EXECD_PORT=6445
CELL_DIR=$SGE_ROOT/$SGE_CELL
SGE_SPOOL=$ROOT/var/spool/gridengine/$SGE_CELL
JOIN=$SHARED/sge-join

sge_edit() {
local sed=$1
shift
# shellcheck disable=SC2016
[ -x "$STATE/sge-edit" ] || printf '#!/bin/sh\nsed -i -e "$SGE_EDIT" "$1"\n' | write_file "$STATE/sge-edit" 0755
SGE_EDIT=$sed EDITOR=$STATE/sge-edit qconf "$@"
}

scheduler_head() {
need sge_qmaster "$NOSGE"
local admin=sgeadmin q=${!QUEUES[0]}
mkdir -p "$CELL_DIR/common" "$SGE_SPOOL/qmaster/job_scripts" "$SGE_SPOOL/db" "$SGE_SPOOL/execd"
chown -R "$admin:$admin" "$CELL_DIR" "$SGE_SPOOL"
if [ ! -s "$CELL_DIR/common/act_qmaster" ]; then
log "making cell $SGE_CELL"
printf '%s\n' 'admin_user sgeadmin' 'default_domain none' 'ignore_fqdn true' 'spooling_method berkeleydb' \
'spooling_lib libspoolb' "spooling_params $SGE_SPOOL/db" 'binary_path /usr/sbin' \
"qmaster_spool_dir $SGE_SPOOL/qmaster" 'security_mode none' 'listener_threads 2' 'worker_threads 2' \
'scheduler_threads 1' >"$CELL_DIR/common/bootstrap"
echo "$NODE" >"$CELL_DIR/common/act_qmaster"
chown -R "$admin:$admin" "$CELL_DIR"
su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SGE_SPOOL/db $admin" "$admin" ||
{ rm -f "$CELL_DIR/common/act_qmaster"; die "init_cluster failed"; }
fi
PIDFILE=$SGE_SPOOL/qmaster/qmaster.pid service sgemaster sge_qmaster
wait_for 60 qconf -sh >/dev/null 2>&1 || die "no sge_qmaster"

if ! qconf -sq "$q" >/dev/null 2>&1; then
qconf -ss | grep -qx "$NODE" || qconf -as "$NODE"
qconf -sm | grep -qx "$LOGIN_USER" || qconf -am "$LOGIN_USER"
local uid=""
if sandboxed; then uid=";s|^min_uid .*|min_uid 0|;s|^min_gid .*|min_gid 0|"; fi
sge_edit "s|^execd_spool_dir .*|execd_spool_dir $SGE_SPOOL/execd|$uid" -mconf global
sge_edit 's|^schedule_interval .*|schedule_interval 0:0:2|' -msconf
qconf -sc | grep -q '^instance_id ' || sge_edit "\$a instance_id iid STRING == YES NO NONE 0" -mc
qconf -shgrp @allhosts >/dev/null 2>&1 || sge_edit '' -ahgrp @allhosts
# shellcheck disable=SC2016
qconf -sp smp >/dev/null 2>&1 || sge_edit 's|^slots .*|slots 99999|;s|^allocation_rule .*|allocation_rule $pe_slots|' -ap smp
# shellcheck disable=SC2016
qconf -sp mpi >/dev/null 2>&1 || sge_edit 's|^slots .*|slots 99999|;s|^allocation_rule .*|allocation_rule $fill_up|;s|^control_slaves .*|control_slaves TRUE|' -ap mpi
sge_edit 's|^hostlist .*|hostlist @allhosts|;s|^slots .*|slots 1024|;s|^shell .*|shell /bin/bash|;s|^pe_list .*|pe_list make smp mpi|;s|^load_thresholds .*|load_thresholds NONE|' -aq "$q"
fi

mkdir -p "$SHARED/sge-common"
cp -a "$CELL_DIR/common/." "$SHARED/sge-common/"
join_watch
scheduler_env "SGE_ROOT=$SGE_ROOT" "SGE_CELL=$SGE_CELL" SGE_QMASTER_PORT=6444 SGE_EXECD_PORT=6445
log "sge_qmaster is up; queue $q"
}

scheduler_join() {
local req h id slots
for req in "$JOIN"/*; do
[ -f "$req" ] || continue
h=${!req##*/}
case $h in *[!A-Za-z0-9.-]*) rm -f "$req"; continue ;; esac
read -r id slots <"$req"
qconf -se "$h" >/dev/null 2>&1 ||
sge_edit "s|^hostname .*|hostname $h|;s|^complex_values .*|complex_values slots=$slots,instance_id=$id|" -ae
qconf -aattr hostgroup hostlist "$h" @allhosts >/dev/null 2>&1 || true
mv -f "$req" "$JOIN/done/$h"
log "added execution host $h ($id)"
done
}

signal() {
if [ -e "$STATE/signalled" ]; then log "CloudFormation was already told; not sending $1"; return 0; fi
[ -n "$WAIT_HANDLE" ] || return 0
local body
body="{\"Status\":\"$1\",\"Reason\":$(json_string "$2"),\"UniqueId\":\"head-node\",\"Data\":$(json_string "$INSTANCE_ID")}"
curl -fsS --retry 5 -X PUT -H 'Content-Type:' --data-binary "$body" "$WAIT_HANDLE"
touch "$STATE/signalled"
log "signalled $1 to CloudFormation"
}

failed() {
INSTANCE_ID=${!INSTANCE_ID:-unknown}
signal FAILURE "head node bootstrap failed in step $STEP (exit $1); last lines of $LOG: $(tail -n 12 "$LOG" | cut -c 1-160 | tail -c 900)"
}
if [ "${!1:-}" = join ]; then
STEP="join"
scheduler_join
exit 0
fi
log "bootstrap of the head node of $CLUSTER (stack $STACK) starts"
step identity
identity
log "instance $INSTANCE_ID in $REGION, node $NODE, address $LOCAL_IP, subnet $SUBNET_CIDR"
step proxy
setup_proxy
step pre-install
site_script pre-install "$PRE_INSTALL" "${!PRE_INSTALL_ARGS[@]}"
step packages
install_packages curl nfs-utils xfsprogs nvme-cli mdadm
step storage
mount_all
step nfs
export_dirs /home /opt/driftless/shared '/shared' '/raid'
step scheduler
scheduler_head
step post-install
site_script post-install "$POST_INSTALL" "${!POST_INSTALL_ARGS[@]}"
step boot
boot_unit
publish_host_key
step signal
signal SUCCESS "head node $NODE ($INSTANCE_ID) is ready"
log "bootstrap done"
