#!/usr/bin/env bash
# The registry source (image/registry.c) against real registries on
# loopback: Debian's docker-registry (distribution 2.8) sharing one storage,
# plain, with htpasswd Basic auth, with a self-signed certificate and with
# token auth; a fake one (socat + fake_registry.sh) that is the token realm
# and serves blobs that redirect, ignore Range, are cut short, too long or
# stall. The fixture image is built here from busybox-static (an OCI layout
# made with tar, gzip, sha256sum and jq) and pushed with skopeo. Everything
# listens on 127.0.0.1 and goes away on exit. Ends with "N passed, N failed".
# Needs: docker-registry skopeo apache2-utils (htpasswd) socat jq busybox-static openssl.
set -u
cd "$(dirname "$0")/../.." || exit 1

for tool in docker-registry skopeo htpasswd socat jq busybox sha256sum openssl; do
  command -v "$tool" >/dev/null || {
    echo "registry_test: $tool missing (apt-get install docker-registry skopeo apache2-utils socat jq busybox-static openssl)"
    echo "0 passed, 1 failed"
    exit 1
  }
done
make --no-print-directory tests/image/registry_test || exit 1
# libcurl honours proxy variables: loopback must not go through one
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

T=$(mktemp -d /tmp/berth-registry-test.XXXXXX)
GROUPS_STARTED=()
cleanup() {
  local g
  for g in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
  for g in "${GROUPS_STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.05; done
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
note_fail() {
  echo "not ok: $*"
  failed=$((failed + 1))
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    port_free "$p" && echo "$p" && return
  done
}

# Runs a command in its own process group (so cleanup takes its children
# too) and records the group; prints the pid (= the group id).
start_group() {
  setsid "$@" >>"$T/servers.log" 2>&1 &
  LAST_PID=$!
  disown "$LAST_PID" # killed on purpose later: no "Killed" notice
  GROUPS_STARTED+=("$LAST_PID")
}

wait_http() { # PORT [-k]: until something answers /v2/ (-k: over https)
  local port=$1 scheme=http
  shift
  [ $# -gt 0 ] && scheme=https
  for _ in $(seq 100); do
    curl -s -o /dev/null "$@" "$scheme://127.0.0.1:$port/v2/" && return 0
    sleep 0.1
  done
  echo "registry_test: nothing answers on 127.0.0.1:$port" >&2
  return 1
}

# registry_config PORT [htpasswd|tls|token]: plain http without auth, or
# with Basic auth (users in $T/htpasswd), https (self-signed $T/tls.crt),
# Bearer tokens from the fake's /token (signed with $T/tls.key).
registry_config() {
  cat <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$1
  secret: berth-registry-test
EOF
  case ${2:-} in
  tls) printf '  tls:\n    certificate: %s\n    key: %s\n' "$T/tls.crt" "$T/tls.key" ;;
  htpasswd) printf 'auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n' "$T/htpasswd" ;;
  token)
    printf 'auth:\n  token:\n    realm: http://%s/token\n    service: berth-test\n' "$BT_FAKE"
    printf '    issuer: berth-test\n    rootcertbundle: %s\n' "$T/tls.crt"
    ;;
  esac
}

start_registry() { # PORT [htpasswd|tls|token]; sets LAST_PID
  registry_config "$@" >"$T/registry-$1.yml"
  start_group docker-registry serve "$T/registry-$1.yml"
  if [ "${2:-}" = tls ]; then wait_http "$1" -k; else wait_http "$1"; fi
}

# An OCI layout in $T/layout: tag 1 = busybox layer + a 40 MiB random layer
# (the kill test needs a blob that takes a while), tag multi = an index
# holding that manifest.
put_blob() { # FILE -> its digest; moves FILE into the layout
  local d
  d=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$T/layout/blobs/sha256/$d"
  echo "sha256:$d"
}

make_layer() { # DIR -> "digest size diff_id"
  local tar=$T/layer.tar diff_id digest
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$1" -cf "$tar" .
  diff_id=sha256:$(sha256sum "$tar" | cut -d' ' -f1)
  gzip -1 -n "$tar"
  local size
  size=$(stat -c %s "$tar.gz")
  digest=$(put_blob "$tar.gz")
  echo "$digest $size $diff_id"
}

build_layout() {
  mkdir -p "$T/layout/blobs/sha256" "$T/rootfs/bin" "$T/big"
  cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
  ln -s busybox "$T/rootfs/bin/sh"
  head -c $((40 << 20)) /dev/urandom >"$T/big/data"
  read -r l1 s1 id1 < <(make_layer "$T/rootfs")
  read -r l2 s2 id2 < <(make_layer "$T/big")
  jq -cn --arg a "$id1" --arg b "$id2" '{architecture:"amd64",os:"linux",
    config:{Cmd:["/bin/sh"]},rootfs:{type:"layers",diff_ids:[$a,$b]}}' >"$T/config.json"
  local csize cdig msize mdig isize idig
  csize=$(stat -c %s "$T/config.json")
  cdig=$(put_blob "$T/config.json")
  jq -cn --arg c "$cdig" --argjson cs "$csize" --arg l1 "$l1" --argjson s1 "$s1" \
    --arg l2 "$l2" --argjson s2 "$s2" '{schemaVersion:2,
    mediaType:"application/vnd.oci.image.manifest.v1+json",
    config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},
    layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$l1,size:$s1},
            {mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$l2,size:$s2}]}' \
    >"$T/manifest.json"
  cp "$T/manifest.json" "$T/manifest.copy"
  msize=$(stat -c %s "$T/manifest.json")
  mdig=$(put_blob "$T/manifest.json")
  jq -cn --arg m "$mdig" --argjson ms "$msize" '{schemaVersion:2,
    mediaType:"application/vnd.oci.image.index.v1+json",
    manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$m,size:$ms,
                platform:{architecture:"amd64",os:"linux"}}]}' >"$T/index-blob.json"
  isize=$(stat -c %s "$T/index-blob.json")
  idig=$(put_blob "$T/index-blob.json")
  jq -cn --arg m "$mdig" --argjson ms "$msize" --arg i "$idig" --argjson is "$isize" '{
    schemaVersion:2,manifests:[
    {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$m,size:$ms,
     annotations:{"org.opencontainers.image.ref.name":"1"}},
    {mediaType:"application/vnd.oci.image.index.v1+json",digest:$i,size:$is,
     annotations:{"org.opencontainers.image.ref.name":"multi"}}]}' >"$T/layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$T/layout/oci-layout"
  export BT_DIGEST=$mdig BT_SMALL_DIGEST=$l1 BT_SMALL_SIZE=$s1
}

push() { # LAYOUT-TAG DEST-TAG [skopeo options]
  local src=$1 dst=$2
  shift 2
  skopeo copy -q --insecure-policy --dest-tls-verify=false "$@" "oci:$T/layout:$src" \
    "docker://$BT_REG/test/busybox:$dst" >>"$T/skopeo.log" 2>&1 || {
    echo "registry_test: skopeo copy $src -> $dst failed:" >&2
    cat "$T/skopeo.log" >&2
    return 1
  }
}

# Runs one phase of the test program and adds up its counts.
phase() {
  local out line p f
  echo "# registry_test $*"
  out=$(tests/image/registry_test "$@" 2>&1)
  echo "$out" | sed 's/^/  /'
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  p=${line%% passed*}
  f=${line#*passed, }
  f=${f%% failed*}
  if [ -z "$line" ]; then
    note_fail "phase $1 printed no count"
    return
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

setup() {
  build_layout || return 1
  P1=$(pick_port)
  start_registry "$P1" || return 1
  REG_PID=$LAST_PID
  export BT_REG=127.0.0.1:$P1
  push 1 1 --digestfile "$T/digest" && push 1 v2s2 --format v2s2 && push multi multi --all ||
    return 1
  [ "$(cat "$T/digest")" = "$BT_DIGEST" ] || echo "# skopeo changed the manifest: $(cat "$T/digest")"
  BT_DIGEST=$(cat "$T/digest")

  export BT_USER=berth BT_PASS=s3cret-pass
  htpasswd -Bbc "$T/htpasswd" "$BT_USER" "$BT_PASS" 2>/dev/null
  P2=$(pick_port)
  start_registry "$P2" htpasswd || return 1
  export BT_AUTH_REG=127.0.0.1:$P2
  export BT_AUTHFILE=$T/auth.json
  jq -n --arg h "$BT_AUTH_REG" --arg a "$(printf '%s:%s' "$BT_USER" "$BT_PASS" | base64 -w0)" \
    '{auths:{($h):{auth:$a}}}' >"$BT_AUTHFILE"

  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=berth-test \
    -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null || return 1
  P4=$(pick_port)
  start_registry "$P4" tls || return 1
  export BT_TLS_REG=127.0.0.1:$P4

  P3=$(pick_port)
  export FAKE_BLOBS=$T/layout/blobs/sha256 FAKE_MANIFEST=$T/manifest.copy FAKE_PORT=$P3 \
    FAKE_USER=$BT_USER FAKE_PASS=$BT_PASS FAKE_KEY=$T/tls.key FAKE_CERT=$T/tls.crt \
    FAKE_TOKENS=$T/tokens
  : >"$FAKE_TOKENS"
  start_group socat "TCP-LISTEN:$P3,bind=127.0.0.1,reuseaddr,fork" \
    "EXEC:bash tests/image/fake_registry.sh"
  wait_http "$P3" || return 1
  export BT_FAKE=127.0.0.1:$P3

  P5=$(pick_port)
  start_registry "$P5" token || return 1
  export BT_TOKEN_REG=127.0.0.1:$P5
  BT_DEAD_PORT=$(pick_port)
  export BT_DEAD_PORT
}

if ! setup; then
  note_fail "setup (servers: $(tail -5 "$T/servers.log" 2>/dev/null))"
  echo "$passed passed, $failed failed"
  exit 1
fi

phase unit
phase basic
phase auth
phase token
phase tls
phase fake
BT_REG_PID=$REG_PID phase kill "$T/partial"
# the registry again, on the same port and storage, for the rest of the blob
start_registry "$P1" || note_fail "registry restart"
phase resume "$T/partial"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
