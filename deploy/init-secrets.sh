#!/usr/bin/env sh
# Create the deployment's secrets once, in secrets/ (git-ignored), as docker-compose.yml
# reads them. A file that exists is never overwritten: run it again safely after adding a
# new secret. The directory is yours only; the files in it are world-readable because
# Compose bind-mounts them as they are, and the containers read them as their own users
# (the app as 10001, MongoDB as 999).
set -eu
dir=${1:-"$(dirname "$0")/../secrets"}
mkdir -p "$dir"
chmod 700 "$dir"
umask 022

create() { # NAME VALUE
  if [ -e "$dir/$1" ]; then
    echo "kept    $dir/$1"
  else
    printf '%s\n' "$2" > "$dir/$1"
    echo "created $dir/$1"
  fi
}

random() { openssl rand -hex "$1"; } # hex: safe in a URL without escaping

create jwt_secret "$(random 48)"
# Older JWT secrets that still verify, comma-separated (README "Rotate the signing key").
create jwt_previous_secrets ""
create mongodb_root_password "$(random 32)"
create mongodb_url "mongodb://graphql_app:$(random 32)@mongodb:27017/?replicaSet=rs0&authSource=admin"
# Shared by the replica set's members to authenticate each other: 6 to 1024 base64 characters.
create mongodb_keyfile "$(openssl rand -base64 756)"
