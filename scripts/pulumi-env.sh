# Source this file: puts the project's Node and a Pulumi toolchain on PATH and makes the CLI work
# offline, with no update checks or plugin downloads. A Pulumi CLI already on PATH is used when it is recent
# enough (scripts/find-pulumi.sh states the minimum); otherwise the pinned CLI is built from Go
# modules once (scripts/install-pulumi.sh). VMP_BUILD_PULUMI=1 always uses the pinned build.
_vmp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The project's Node first: the CLI's nodejs language host runs programs on it.
source "$_vmp_root/scripts/node-env.sh" || return 1
if [[ -z ${VMP_BUILD_PULUMI:-} ]] && _vmp_bin=$("$_vmp_root/scripts/find-pulumi.sh" 2>/dev/null); then
  : # the CLI's own directory goes first, so its language hosts are the ones found
else
  _vmp_bin=$("$_vmp_root/scripts/install-pulumi.sh") || return 1
fi
export PATH="$_vmp_bin:$_vmp_root/scripts/plugins:$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
unset _vmp_root _vmp_bin
