#!/usr/bin/env bash
# The one place the examples meet the local lab: sets the current stack's vmplacement provider
# configuration from the lab description ($VMP_LAB_DIR/lab.json, written by `make lab-up`).
# On real hosts you set the same keys yourself (docs/installation-configuration.md):
#   pulumi config set vmplacement:hosts '[{"name":"kvm1","uri":"qemu+ssh://root@kvm1/system"}, ...]'
#   pulumi config set --secret vmplacement:sshPrivateKey < ~/.ssh/id_ed25519
#   pulumi config set vmplacement:sshKnownHosts < ~/.ssh/known_hosts
# Run it in the project directory after `pulumi stack init` (or select).
set -euo pipefail
lab=${VMP_LAB_DIR:-/var/lib/vmplacement-lab}/lab.json
[[ -f $lab ]] || { echo "no lab description at $lab: run 'make lab-up' first" >&2; exit 1; }

# The hosts over ssh, host keys verified; the daemons reach each other over tcp for the migration.
hosts=$(jq -c '[.hosts[] | {name, uri: .uris.ssh, peerUri: .uris.tcp, migrationAddress, labels}]' "$lab")
pulumi config set vmplacement:hosts "$hosts" --non-interactive
pulumi config set --secret vmplacement:sshPrivateKey --non-interactive <"$(jq -r .ssh.privateKey "$lab")"
pulumi config set vmplacement:sshKnownHosts --non-interactive <"$(jq -r .ssh.knownHosts "$lab")"
