# Source this file: puts the project's Pulumi toolchain on PATH (building it once if needed)
# and makes the CLI work offline, with no update checks or plugin downloads.
_vmp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_vmp_bin=$("$_vmp_root/scripts/install-pulumi.sh") || return 1
export PATH="$_vmp_bin:$_vmp_root/scripts/plugins:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
unset _vmp_root _vmp_bin
