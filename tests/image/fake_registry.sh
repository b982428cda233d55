#!/usr/bin/env bash
# One connection to the fake registry of registry_test.sh: socat runs this
# per connection with the socket on stdin/stdout. The repository chooses how
# the server misbehaves on GET /v2/REPO/blobs/DIGEST:
#   redirect/x   307 to /storage/DIGEST, which honours Range
#   norange/x    always the whole blob (200), Range ignored
#   short/x      without Range: half the blob, then the connection closes;
#                with Range: the rest (206)
#   liar/x       the blob and 100 bytes more (Content-Length says so too)
#   stall/x      half the blob, then nothing for 10 s
#   tok/busybox  Bearer auth: a token from /token for USER:PASS (Basic);
#                manifests/1 is MANIFEST
#   fake_registry.sh BLOBDIR USER PASS PORT MANIFEST
set -u
blobs=$1 user=$2 pass=$3 port=$4 manifest=$5
token=berth-test-token

# A TLS ClientHello (first byte 0x16): answer like an HTTP server does, so
# the client's https attempt fails at once and it falls back to http.
IFS= read -r -n 1 first || exit 0
if [ "$first" = $'\x16' ]; then
  printf 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'
  exit 0
fi
# the rest of "GET TARGET HTTP/1.1"
read -r _ target _ || exit 0
range="" auth=""
while IFS= read -r line; do
  line=${line%$'\r'}
  [ -z "$line" ] && break
  case "${line,,}" in
  range:*) range=${line#*=} range=${range%-} ;;
  authorization:*) auth=${line#*: } ;;
  esac
done

reply() { # STATUS [HEADER...]: the status line and headers; the body follows
  printf 'HTTP/1.1 %s\r\nConnection: close\r\n' "$1"
  shift
  for h in "$@"; do printf '%s\r\n' "$h"; done
  printf '\r\n'
}

not_found() {
  reply "404 Not Found" "Content-Length: 0"
  exit 0
}

serve_range() { # FILE: whole (200) or from the Range offset (206)
  local f=$1 size from
  size=$(stat -c %s "$f")
  from=${range:-0}
  if [ -z "$range" ]; then
    reply "200 OK" "Content-Length: $size" "Content-Type: application/octet-stream"
  else
    reply "206 Partial Content" "Content-Length: $((size - from))" \
      "Content-Range: bytes $from-$((size - 1))/$size"
  fi
  tail -c +$((from + 1)) "$f"
}

bearer_check() {
  [ "$auth" = "Bearer $token" ] && return 0
  reply "401 Unauthorized" "Content-Length: 0" \
    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:$port/token\",service=\"fake\",scope=\"repository:tok/busybox:pull\""
  exit 0
}

basic_token() {
  local want
  want=$(printf '%s:%s' "$user" "$pass" | base64 -w0)
  if [ "$auth" != "Basic $want" ]; then
    reply "401 Unauthorized" "Content-Length: 0"
    exit 0
  fi
  local body="{\"token\":\"$token\",\"expires_in\":300}"
  reply "200 OK" "Content-Type: application/json" "Content-Length: ${#body}"
  printf '%s' "$body"
}

blob() { # REPO DIGEST
  local f=$blobs/${2#sha256:} size
  [ -f "$f" ] || not_found
  size=$(stat -c %s "$f")
  case $1 in
  redirect/x) reply "307 Temporary Redirect" "Location: /storage/$2" "Content-Length: 0" ;;
  norange/x) range="" serve_range "$f" ;;
  short/x)
    if [ -n "$range" ]; then serve_range "$f"; else
      reply "200 OK" "Content-Length: $size"
      head -c $((size / 2)) "$f"
    fi
    ;;
  liar/x)
    reply "200 OK" "Content-Length: $((size + 100))"
    cat "$f"
    head -c 100 /dev/zero
    ;;
  stall/x)
    reply "200 OK" "Content-Length: $size"
    head -c $((size / 2)) "$f"
    sleep 10
    ;;
  tok/busybox) bearer_check && serve_range "$f" ;;
  *) not_found ;;
  esac
}

case $target in
/v2/) reply "200 OK" "Content-Length: 2" && printf '{}' ;;
/token\?*) basic_token ;;
/storage/sha256:*)
  f=$blobs/${target#/storage/sha256:}
  [ -f "$f" ] || not_found
  serve_range "$f"
  ;;
/v2/tok/busybox/manifests/1)
  bearer_check
  reply "200 OK" "Content-Type: application/vnd.oci.image.manifest.v1+json" \
    "Content-Length: $(stat -c %s "$manifest")"
  cat "$manifest"
  ;;
/v2/*/blobs/sha256:*)
  repo=${target#/v2/} repo=${repo%/blobs/*}
  blob "$repo" "${target##*/blobs/}"
  ;;
*) not_found ;;
esac
