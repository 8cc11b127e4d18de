#!/usr/bin/env bash
# The demo: three lab VMs placed by the TypeScript example, then one placement changed and
# `pulumi up` run again, which migrates that VM live; prints the migration record. The example
# runs as a user's project would: copied outside this repository, with the SDK from the npm
# package and the plugin installed from its tarball (scripts/example-project.sh).
# Run through `make demo` (which installs everything, builds the packages and starts the lab first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/pulumi-env.sh"
lab_dir=${VMP_LAB_DIR:-/var/lib/vmplacement-lab}
export PULUMI_BACKEND_URL="file://$lab_dir/pulumi-demo"
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-vmplacement-demo}

node "$root/build/test/lab/demo-guests.js"
# A fresh project, home and backend each run: the first `up` adopts the VMs wherever they run.
project=$lab_dir/demo-project
export PULUMI_HOME=$lab_dir/demo-pulumi-home
rm -rf "$project" "$PULUMI_HOME" "$lab_dir/pulumi-demo"
mkdir -p "$lab_dir/pulumi-demo"
exports=$("$root/scripts/example-project.sh" typescript "$project")
while IFS= read -r line; do [[ -n $line ]] && export "${line?}"; done <<<"$exports"
cd "$project"
pulumi stack select --create demo --non-interactive >/dev/null
"$root/examples/lab-stack-config.sh"
hosts=($(jq -r '.hosts[].name' "$lab_dir/lab.json"))

# First run: adopt each VM where it runs now.
for vm in demo-1 demo-2 demo-3; do
  for h in "${hosts[@]}"; do
    if virsh -q -c "$(jq -r --arg h "$h" '.hosts[] | select(.name == $h) | .uris.tcp' "$lab_dir/lab.json")" list --name | grep -qx "$vm"; then
      pulumi config set --path "vms.$vm" "$h" --non-interactive
    fi
  done
done
echo "== pulumi up: adopt the VMs where they run"
pulumi up --yes --skip-preview --non-interactive

current=$(pulumi config get --path vms.demo-1)
next=${hosts[0]}
[[ $current == "${hosts[0]}" ]] && next=${hosts[1]}
pulumi config set --path vms.demo-1 "$next" --non-interactive
echo "== pulumi preview: the plan for moving demo-1 from $current to $next"
pulumi preview --non-interactive
echo "== pulumi up: move demo-1 live"
pulumi up --yes --skip-preview --non-interactive
echo "== the migration record"
pulumi stack output lastMigrations --json --non-interactive | jq '."demo-1"'
