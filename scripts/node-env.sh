# Source this file: puts the project's Node.js (scripts/install-node.sh, the current LTS) first on
# PATH, so npm, the build, the tests and the Pulumi CLI's nodejs language host all run on it.
_vmp_node_bin=$("$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/install-node.sh") || return 1
case ":$PATH:" in
  *":$_vmp_node_bin:"*) ;;
  *) export PATH="$_vmp_node_bin:$PATH" ;;
esac
unset _vmp_node_bin
