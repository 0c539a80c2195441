#!/usr/bin/env bash
# mongod refuses a key file that others can read, and Compose bind-mounts secrets with the
# host file's owner and mode: copy it, as root, to a file only the mongodb user can read,
# then hand over to the image's own entrypoint (which drops to that user).
set -euo pipefail
install -m 400 -o mongodb -g mongodb /run/secrets/mongodb_keyfile /run/mongodb-keyfile
exec docker-entrypoint.sh "$@"
