#!/usr/bin/env bash
# ci-deps.sh installs the Debian packages the integration tests run for real
# (git servers, sshd, schedulers, Prometheus, linters). It needs root and
# apt-get; elsewhere it says so and does nothing, and those tests skip.
set -euo pipefail
packages=(git prometheus openssh-server openssh-client systemd zsh shellcheck curl)
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
	echo "ci-deps.sh: not root or no apt-get; skipping system packages: ${packages[*]}" >&2
	exit 0
fi
missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
