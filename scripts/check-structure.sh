#!/usr/bin/env bash
# The provider's layering (docs/ARCHITECTURE.md), checked: no import cycle anywhere in
# provider/src, and above the engine (server, resources, fleet) nothing imports an engine module
# other than its index, the libvirt client, or the fencing agents.
set -euo pipefail
cd "$(dirname "$0")/.."

npx --no-install dpdm --no-tree --no-warning --exit-code circular:1 'provider/src/**/*.ts'

violations=$(grep -rnE "from \"(\.\./)+(engine/|libvirt|fencing)" \
  provider/src/server provider/src/resources provider/src/fleet || true)
if [[ -n "$violations" ]]; then
  echo "imports past the engine's index (use \"../engine\"):" >&2
  echo "$violations" >&2
  exit 1
fi
echo "layers: server, resources and fleet reach hosts only through the engine's index"
