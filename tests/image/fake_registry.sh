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
#   tok/busybox  Bearer auth with a token from /token
# /token?service=S&scope=repository:NAME:pull, asked with FAKE_USER:
# FAKE_PASS (Basic), answers a JWT signed with FAKE_KEY (RS256, FAKE_CERT
# in x5c) that a docker-registry with `auth: token` accepts (issuer
# berth-test, audience S, pull on NAME); other credentials get a 401.
# Configured through the environment: FAKE_BLOBS (the layout's
# blobs/sha256), FAKE_MANIFEST (served as tok/busybox:1), FAKE_PORT,
# FAKE_USER, FAKE_PASS, FAKE_KEY, FAKE_CERT, FAKE_TOKENS (tokens issued).
set -u
blobs=$FAKE_BLOBS

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
  [ "${auth%% *}" = Bearer ] && grep -qxF "${auth#Bearer }" "$FAKE_TOKENS" && return 0
  reply "401 Unauthorized" "Content-Length: 0" \
    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:$FAKE_PORT/token\",service=\"fake\",scope=\"repository:tok/busybox:pull\""
  exit 0
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

query_param() { # NAME: its URL-decoded value in the request target
  local v
  v=$(printf '%s' "${target#*\?}" | tr '&' '\n' | sed -n "s/^$1=//p" | head -1)
  v=${v//+/ }
  printf '%b' "${v//%/\\x}"
}

jwt_mint() { # SERVICE NAME
  local now header claims x5c unsigned
  now=$(date +%s)
  x5c=$(openssl x509 -in "$FAKE_CERT" -outform DER | base64 -w0)
  header=$(jq -cn --arg c "$x5c" '{typ:"JWT",alg:"RS256",x5c:[$c]}' | b64url)
  claims=$(jq -cn --arg aud "$1" --arg name "$2" --argjson now "$now" --arg sub "$FAKE_USER" \
    '{iss:"berth-test",sub:$sub,aud:$aud,exp:($now+300),nbf:($now-10),iat:($now-10),
      jti:"\($now)-\($name)",access:[{type:"repository",name:$name,actions:["pull"]}]}' | b64url)
  unsigned=$header.$claims
  printf '%s.%s' "$unsigned" "$(printf '%s' "$unsigned" | openssl dgst -sha256 -sign "$FAKE_KEY" | b64url)"
}

basic_token() {
  local want scope name token
  want=$(printf '%s:%s' "$FAKE_USER" "$FAKE_PASS" | base64 -w0)
  if [ "$auth" != "Basic $want" ]; then
    reply "401 Unauthorized" "Content-Length: 0"
    exit 0
  fi
  scope=$(query_param scope)
  name=${scope#repository:}
  name=${name%:*}
  token=$(jwt_mint "$(query_param service)" "$name")
  echo "$token" >>"$FAKE_TOKENS"
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
    "Content-Length: $(stat -c %s "$FAKE_MANIFEST")"
  cat "$FAKE_MANIFEST"
  ;;
/v2/*/blobs/sha256:*)
  repo=${target#/v2/} repo=${repo%/blobs/*}
  blob "$repo" "${target##*/blobs/}"
  ;;
*) not_found ;;
esac
