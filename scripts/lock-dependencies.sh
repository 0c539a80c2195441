#!/usr/bin/env bash
# Re-resolve the locks from pyproject.toml with a pinned uv: requirements.lock (the runtime
# dependencies, installed by the Docker image) and requirements-dev.lock (the same pins plus
# the dev extra, installed by .ci/run and the README). Every package, transitive ones
# included, pinned with its hashes, for any platform. Versions already locked are kept unless
# pyproject.toml needs others; pass --upgrade to move everything to the newest allowed.
set -euo pipefail
UV=0.13.8
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools" && "$tools/bin/pip" install --quiet "uv==$UV"
compile=("$tools/bin/uv" pip compile pyproject.toml --universal --python-version 3.11
  --generate-hashes --quiet --custom-compile-command "scripts/lock-dependencies.sh" "$@")
"${compile[@]}" -o requirements.lock
"${compile[@]}" --extra dev --constraint requirements.lock -o requirements-dev.lock
