#!/usr/bin/env bash
# Turn the raw captures of tests/corpus/capture.sh into committed fixtures:
#
#   tests/corpus/normalise.sh [RAW_DIR [OUT_DIR]]
#     RAW_DIR  default tests/corpus/raw   (configs/NNN_<case>_<id>.{json,sources}, argv.log)
#     OUT_DIR  default tests/fixtures/configs
#
# Each config becomes OUT_DIR/<case>.json (a second config of the same case,
# e.g. a pod's infra container, becomes <case>-2.json, and so on), with
# everything that names the capture host replaced by a placeholder that
# tests/integration/corpus.bats fills in at replay:
#
#   @ROOTFS@            an absolute root.path (a relative one, as containerd
#                       writes, stays as it is)
#   @BUNDLE@/files/N    a bind-mount source file from the caller's private
#   @BUNDLE@/dirs/N     storage (hosts, resolv.conf, shm, volumes, the init
#                       binary docker/podman bind in) -> made empty in the bundle
#   @ID@ / @ID12@       the container id / its first 12 characters (hostname)
#   @WORK@              any other path into the capture's private directory
#   @CGROUPS_PATH@      linux.cgroupsPath
#   @NS@                a namespace path (/proc/PID/ns/TYPE) joined from
#                       another container, e.g. a pod's infra
#   @MISSING@/NAME      a hook binary that belongs to the caller (dockerd's
#                       /proc/PID/exe libnetwork-setkey): never present at replay
#
# Everything the runtime acts on (mounts and their options, devices, caps,
# seccomp, namespaces, resources, rlimits, personality, process) is kept.
# The argv lines go to OUT_DIR/argv.txt with the same placeholders.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
RAW=${1:-$SRC/tests/corpus/raw}
OUT=${2:-$SRC/tests/fixtures/configs}
mkdir -p "$OUT"

# The jq program: $work, $id, $bundle, $kinds ({source: kind}), $caller.
# shellcheck disable=SC2016
FILTER='
def id12: $id[0:12];
def subst:
  if type == "string" then
    (if $id != "" then gsub($id; "@ID@") else . end)
    | (if $id != "" then gsub(id12; "@ID12@") else . end)
    | (if $bundle != "" then gsub($bundle; "@BUNDLE@") else . end)
    | gsub($work; "@WORK@")
  else . end;
def placeholder_source($i):
  (.source // "") as $s
  | ($kinds[$s] // "") as $k
  | if ($s | startswith($work + "/")) and ($k == "d" or $k == "f") then
      .source = "@BUNDLE@/" + (if $k == "d" then "dirs" else "files" end)
                + "/" + ($s | split("/") | last) + "-" + ($i | tostring)
    elif ($s | startswith($work + "/")) and $k == "" then
      # No record of its kind (an older capture): guess from the name.
      ($s | split("/") | last) as $b
      | .source = "@BUNDLE@/" + (if ($b | test("^(hosts|hostname|resolv\\.conf|\\.containerenv)$")) then "files" else "dirs" end)
                  + "/" + $b + "-" + ($i | tostring)
    elif ($s | test("^/usr/(bin|libexec/podman|libexec/docker)/(docker-init|catatonit|tini|tini-static)$")) then
      .source = "@BUNDLE@/files/" + ($s | split("/") | last) + "-" + ($i | tostring)
    else . end;
(if (.root.path // "" | startswith("/")) then .root.path = "@ROOTFS@" else . end)
| (if .mounts then .mounts |= [to_entries[] | .key as $i | .value | placeholder_source($i)] else . end)
| (if .hooks then .hooks |= with_entries(.value |= map(
      if (.path | test("^/proc/[0-9]+/exe$")) then .path = "@MISSING@/" + $caller + "d"
      elif (.path | startswith($work)) then .path = "@MISSING@/" + (.path | split("/") | last)
      else . end)) else . end)
| (if .linux.cgroupsPath then .linux.cgroupsPath = "@CGROUPS_PATH@" else . end)
| (if .linux.namespaces then .linux.namespaces |= map(
      if (.path // "" | test("^/proc/[0-9]+/ns/")) then .path = "@NS@" else . end) else . end)
| (if .annotations["io.kubernetes.cri-o.Created"] then
      .annotations["io.kubernetes.cri-o.Created"] = "1970-01-01T00:00:00Z" else . end)
| walk(subst)
'

declare -A seen=()
shopt -s nullglob
for f in "$RAW"/configs/*.json; do
	base=${f%.json}
	name=$(basename "$base")
	name=${name#*_}       # drop NNN_
	id=${name##*_}        # the container id
	case_name=${name%_*}
	caller=${case_name%%-*}
	bundle='' work=''
	kinds='{}'
	if [ -f "$base.sources" ]; then
		bundle=$(sed -n 's/^bundle //p' "$base.sources")
		work=$(sed -n 's/^work //p' "$base.sources")
		kinds=$(grep -E '^[dfc-] ' "$base.sources" | jq -R 'capture("^(?<k>.) (?<s>.*)$") | {(.s): .k}' | jq -s 'add // {}')
	fi
	if [ -z "$work" ]; then
		work=$(grep -oE '/tmp/berth-corpus\.[A-Za-z0-9]+' "$f" | head -n 1 || true)
	fi
	[ -n "$work" ] || work=/nonexistent-capture-dir
	n=${seen[$case_name]:-0}
	n=$((n + 1))
	seen[$case_name]=$n
	out=$OUT/$case_name.json
	[ "$n" -eq 1 ] || out=$OUT/$case_name-$n.json
	jq --arg work "$work" --arg id "$id" --arg bundle "$bundle" --arg caller "$caller" \
		--argjson kinds "$kinds" "$FILTER" "$f" >"$out.tmp"
	mv "$out.tmp" "$out"
	if grep -qE '/tmp/berth-corpus\.|/var/lib/(docker|containers)|/run/(libpod|containers|docker)' "$out"; then
		echo "normalise: $out still names a capture-host path:" >&2
		grep -nE '/tmp/berth-corpus\.|/var/lib/(docker|containers)|/run/(libpod|containers|docker)' "$out" >&2
	fi
	echo "normalise: $(basename "$out")"
done

# argv: one line per runtime call, "case verb-line" with the same placeholders.
if [ -f "$RAW/argv.log" ]; then
	sed -E -e 's#/tmp/berth-corpus\.[A-Za-z0-9]+#@WORK@#g' \
		-e 's#[0-9a-f]{64}#@ID@#g' "$RAW/argv.log" | grep -vE '^(unknown|[a-z]+-(load|import|pod-create|pod-rm)) ' >"$OUT/argv.txt" || true
	echo "normalise: argv.txt ($(wc -l <"$OUT/argv.txt") lines)"
fi
