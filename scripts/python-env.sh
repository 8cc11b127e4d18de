# Source this file (after or instead of scripts/pulumi-env.sh): activates the development
# virtualenv (scripts/install-python-env.sh), building it once if needed. The project's Python
# language host ignores Pulumi.yaml runtime options, so the venv's python must come first on PATH.
_vmp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_vmp_venv=$("$_vmp_root/scripts/install-python-env.sh") || return 1
export VIRTUAL_ENV="$_vmp_venv"
export PATH="$_vmp_venv/bin:$PATH"
unset _vmp_root _vmp_venv
