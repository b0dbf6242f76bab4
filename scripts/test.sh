#!/usr/bin/env bash
# test.sh runs every test of the project. It installs what the tests need
# that lives inside the repository (the AWS emulator in .venv) and leaves
# system packages to scripts/ci-deps.sh; tests whose programs are missing
# skip with a message saying what to install (in CI they fail instead).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

scripts/moto.sh install
export DRIFTLESS_MOTO_SERVER=$root/.venv/bin/moto_server
export DRIFTLESS_CFN_LINT=$root/.venv/bin/cfn-lint

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n $unformatted ]]; then
	echo "gofmt would change:" $unformatted >&2
	exit 1
fi
go vet ./...
go test -count=1 -timeout 25m "$@" ./...
