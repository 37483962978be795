# Sourced by tests/conformance/run.sh and bench/run.sh: make sure the virtualenv at $venv exists
# and holds exactly tests/conformance/requirements.txt (reinstalled only when that file changes).
# Needs: $venv (target dir), $python (interpreter to create it with). Defines venv_ready.

venv_ready() {
    local reqs stamp want
    reqs="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/requirements.txt"
    # Recreate when missing or broken (e.g. made by a Python that has since been removed).
    if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null; then
        echo "creating virtualenv $venv" >&2
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        if ! "$python" -m venv "$venv"; then
            echo "'$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
            return 1
        fi
    fi
    stamp="$venv/.requirements.sha256"
    want="$(sha256sum "$reqs" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        echo "installing $reqs into $venv" >&2
        "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$reqs" || return 1
        echo "$want" >"$stamp"
    fi
}
