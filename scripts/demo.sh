#!/usr/bin/env bash
# demo.sh runs Driftless on this machine: the daemon against the local AWS
# emulator, reconciling a cluster repo made from examples/clusters.
#
#   scripts/demo.sh            start everything and run the daemon (Ctrl-C stops it)
#
# It needs only Go, Python 3 and git. State lives in .cache/demo/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
port=${MOTO_PORT:-5000}
listen=${LISTEN:-127.0.0.1:9810}
demo=$root/.cache/demo
endpoint=http://127.0.0.1:$port

scripts/moto.sh start "$port"

# The emulator starts empty: make the VPC and subnet the examples refer to
# (or find the ones an earlier run made).
read -r vpc subnet < <(.venv/bin/python - "$endpoint" <<'PY'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
tag = [{"Name": "tag:Name", "Values": ["driftless-demo"]}]
vpcs = ec2.describe_vpcs(Filters=tag)["Vpcs"]
if vpcs:
    vpc = vpcs[0]["VpcId"]
else:
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "driftless-demo"}])
subnets = ec2.describe_subnets(Filters=tag)["Subnets"]
if subnets:
    subnet = subnets[0]["SubnetId"]
else:
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[subnet], Tags=[{"Key": "Name", "Value": "driftless-demo"}])
print(vpc, subnet)
PY
)

# The cluster repo: examples/clusters with the emulator's ids, one commit.
repo=$demo/repo
if [[ ! -d $repo/.git ]]; then
	mkdir -p "$repo/clusters"
	git -C "$repo" init -q -b main
	git -C "$repo" config user.name "Driftless demo"
	git -C "$repo" config user.email "demo@localhost"
fi
for f in examples/clusters/*.yaml; do
	sed -e "s/vpc-0123456789abcdef0/$vpc/" -e "s/subnet-0123456789abcdef0/$subnet/" "$f" >"$repo/clusters/$(basename "$f")"
done
git -C "$repo" add -A
git -C "$repo" diff --cached --quiet || git -C "$repo" commit -q -m "Clusters from examples/"

cat >"$demo/config.yaml" <<YAML
repo:
  url: file://$repo
  branch: main
  path: clusters
  pollInterval: 10s
  cacheDir: $demo/cache
aws:
  region: us-east-1
  endpoint: $endpoint
listen: $listen
prune: true
YAML

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
go build -o "$demo/reconciler" ./cmd/reconciler
cat <<TXT

Driftless is starting against the emulator at $endpoint.
  cluster repo:  $repo   (edit clusters/*.yaml and commit: the next cycle applies it)
  status:        curl -s http://$listen/status
  metrics:       curl -s http://$listen/metrics | grep ^driftless_
  plan:          $demo/reconciler plan --config $demo/config.yaml
  stop:          Ctrl-C here, then scripts/moto.sh stop

TXT
exec "$demo/reconciler" run --config "$demo/config.yaml"
