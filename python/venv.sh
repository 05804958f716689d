#!/usr/bin/env bash
# Creates, or reuses, the virtual environment the framework tests run in
# (python/requirements.txt, exact pins), and prints its python on stdout.
# Everything else goes to stderr.
#
# The environment lives outside the clone, in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/lossc/venv-<first 12 hex of sha256 of requirements.txt>
# so a change of the pins makes a new one (and removes the old ones nobody is
# using). An environment that exists but is broken (no completion marker, or
# `import jax` fails) is recreated.
#
# requirements.txt has a core (numpy, jax: the JAX reference tests) and,
# after the `# --- frameworks` line, the frameworks `lossc emit` is tested
# in (torch, keras, tensorflow-cpu: several GB, a few minutes). If the whole
# file cannot be installed, the core alone is, with a warning: the emit tests
# then skip the frameworks that are missing, saying so.
#
# Exit status 0 with the path printed, or 1 (no python3, no network, ...)
# after a warning: the caller then leaves LOSSC_PYTHON unset and the tests
# that need the frameworks skip.
#
# Usage (as .ci/run does):
#   if py=$(python/venv.sh); then export LOSSC_PYTHON="$py"; fi
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
requirements="$here/requirements.txt"

warn() { echo "python/venv.sh: warning: $*" >&2; }

if ! command -v python3 >/dev/null; then
    warn "python3 not found; the framework tests will be skipped"
    exit 1
fi

hash="$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:12])' "$requirements")" || {
    warn "cannot hash $requirements"
    exit 1
}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lossc"
venv="$cache/venv-$hash"
python="$venv/bin/python"
marker="$venv/.lossc-complete"

healthy() {
    [ -f "$marker" ] && "$python" -c 'import numpy, jax, jax.numpy' >/dev/null 2>&1
}

# Private (0700) when it is new: lossc's cache of generated code lives beside
# the environments and refuses a folder others may write to.
(umask 077 && mkdir -p "$cache") || { warn "cannot create $cache"; exit 1; }

# One installer at a time (two CI runs sharing a cache).
if command -v flock >/dev/null; then
    exec 9>"$cache/venv-$hash.lock"
    flock 9
fi

if healthy; then
    echo "python/venv.sh: reusing $venv" >&2
    echo "$python"
    exit 0
fi

if [ -e "$venv" ]; then
    echo "python/venv.sh: $venv is incomplete or broken; recreating it" >&2
    rm -rf "$venv"
fi

# Environments of other pins take gigabytes: remove those no run holds.
for old in "$cache"/venv-*; do
    [ -d "$old" ] || continue
    [ "$old" = "$venv" ] && continue
    if command -v flock >/dev/null; then
        ( flock -n 8 || exit 1; rm -rf "$old" ) 8>"$old.lock" && rm -f "$old.lock" \
            && echo "python/venv.sh: removed the old environment $old" >&2
    fi
done

pip_install() {
    # --no-cache-dir: the wheels (about 3 GB) are not kept a second time in pip's cache.
    "$python" -m pip install --disable-pip-version-check --no-input --no-cache-dir \
        --timeout 60 --retries 3 "$@" >&2
}

echo "python/venv.sh: creating $venv (numpy, jax, torch, keras, tensorflow: about 7 GB, a few minutes)" >&2
if ! python3 -m venv "$venv" >&2; then
    warn "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv); the framework tests will be skipped"
    rm -rf "$venv"
    exit 1
fi
if ! pip_install -r "$requirements"; then
    warn "pip install -r python/requirements.txt failed; installing the core (numpy, jax) alone: the emit tests will skip torch, keras and tensorflow"
    core="$venv/requirements-core.txt"
    sed '/^# --- frameworks/,$d' "$requirements" >"$core"
    if ! pip_install -r "$core"; then
        warn "pip install of numpy and jax failed (no network?); the framework tests will be skipped"
        rm -rf "$venv"
        exit 1
    fi
fi
touch "$marker"
if ! healthy; then
    warn "the new environment cannot import jax; the framework tests will be skipped"
    rm -rf "$venv"
    exit 1
fi
echo "$python"
