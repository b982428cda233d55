#!/usr/bin/env bash
# make demo: builds a busybox-static bundle and runs a container that shows
# what it is isolated from, next to the host's view of the same things.
set -euo pipefail
cd "$(dirname "$0")/.."
berth="$PWD/berth"
bundle="$PWD/demo-bundle"
root=$(mktemp -d /tmp/berth-demo-root.XXXXXX)
trap 'rm -rf "$root"' EXIT

rm -rf "$bundle"
mkdir -p "$bundle"
tests/fixtures/busybox-rootfs.sh "$bundle/rootfs"
(cd "$bundle" && "$berth" spec)
script='echo "hostname:  $(hostname)"
echo "my pid:    $$"
echo "processes: $(ls -d /proc/[0-9]* | wc -l)"
echo "network:   $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")"
echo "uid:       $(id -u), caps: $(grep CapEff /proc/self/status | cut -f2)"
echo "root fs:   $(touch /x 2>/dev/null && echo writable || echo read-only)"
echo "mounts:"; sed "s/^/  /" /proc/mounts'
jq --arg s "$script" '.process.terminal = false | .process.args = ["sh", "-c", $s]' \
  "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "== inside the container (berth run) =="
"$berth" --root "$root" run --bundle "$bundle" demo
echo
echo "== the host's view =="
echo "hostname:  $(hostname)"
echo "my pid:    $$"
echo "processes: $(ls -d /proc/[0-9]* | wc -l)"
echo "network:   $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "mounts:    $(wc -l </proc/mounts) entries"
