#!/usr/bin/env bash
# ci-scale.sh installs what the fleet loop's integration tests run for real:
# Slurm 22.05 (slurmctld, slurmd, the clients, slurmrestd and its JWT
# plugin, munge) and Grid Engine 8.1.9 (master, exec, client) from Debian's
# packages. The tests start and stop every daemon themselves, on 127.0.0.1
# or in a loopback-only network namespace; this script starts nothing.
#
# Idempotent: it installs only what is missing (a second run takes well
# under a second). Needs root and apt-get; elsewhere it says so and does
# nothing, and those tests skip (or, with CI set, fail).
set -euo pipefail

packages=(slurmctld slurmd slurm-client slurmrestd slurm-wlm-jwt-plugin munge
	gridengine-master gridengine-exec gridengine-client iproute2 util-linux)

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
	echo "ci-scale.sh: not root or no apt-get; skipping: ${packages[*]}" >&2
	exit 0
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "ci-scale.sh: Slurm and Grid Engine already installed"
	exit 0
fi

# Grid Engine's postinst asks for the cell and the master host; answer so
# it configures the default cell for this host without prompting.
host=$(hostname)
debconf-set-selections <<EOS
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string $host
gridengine-master shared/gridengineconfig boolean true
gridengine-master shared/gridenginecell string default
gridengine-master shared/gridenginemaster string $host
EOS

# Keep the packages' postinst scripts from starting system-wide daemons:
# the tests start their own, on their own ports and state directories.
created_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	created_policy=1
fi
trap 'if [[ $created_policy == 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT

start=$(date +%s)
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ci-scale.sh: installed ${missing[*]} in $(($(date +%s) - start))s"

# Grid Engine resolves this host by name: it must resolve (to 127.0.0.1).
getent hosts "$host" >/dev/null || echo "127.0.0.1 $host" >>/etc/hosts
