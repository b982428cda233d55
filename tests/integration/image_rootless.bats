#!/usr/bin/env bats
# Images for an ordinary user (issue #12): `berth run --image` and `bundle
# create --image` run by a throwaway user (berthimg, made for this file, as
# sandbox_rootless.bats does; no /etc/subuid range needed). The image's
# rootfs is a copy owned by the user; the user namespace maps the ids the
# image's User names to the user's own, so a non-root User starts and owns
# what it finds; root images run as root inside. Nothing stays after run.

load helpers

IM_USER=berthimg
IM_PREFERRED_UID=2520

im_free_id() {
	local id=$IM_PREFERRED_UID
	while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do
		id=$((id + 1))
	done
	echo "$id"
}

im_user_pids() {
	[ -n "${IM_UID:-}" ] || return 0
	ps -eo pid=,ruid=,euid= | awk -v u="$IM_UID" '$2 == u || $3 == u { print $1 }'
}

# An OCI layout "user:v": the fixture's layers, then one adding user app
# (1000:1000) with a home only it may enter (0700), and User "app".
user_layout() {
	python3 - "$1/oci" "$1/user" <<'PY'
import gzip, hashlib, io, json, shutil, sys, tarfile
src, out = sys.argv[1:]
shutil.copytree(src, out)
blobs = out + "/blobs/sha256/"
def read(d):
    return open(blobs + d.split(":")[1], "rb").read()
def put(data, media):
    d = hashlib.sha256(data).hexdigest()
    open(blobs + d, "wb").write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
    def add(name, kind, mode, uid, data=b""):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.size, ti.mtime = kind, mode, uid, uid, len(data), 0
        t.addfile(ti, io.BytesIO(data))
    add("etc/passwd", tarfile.REGTYPE, 0o644, 0,
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
    add("home", tarfile.DIRTYPE, 0o755, 0)
    add("home/app", tarfile.DIRTYPE, 0o700, 1000)
    add("home/app/secret", tarfile.REGTYPE, 0o600, 1000, b"for app only\n")
tar = raw.getvalue()
index = json.load(open(out + "/index.json"))
man = json.loads(read(index["manifests"][0]["digest"]))
cfg = json.loads(read(man["config"]["digest"]))
man["layers"].append(put(gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"))
cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
cfg.setdefault("config", {})["User"] = "app"
cfg["config"]["WorkingDir"] = "/home/app"
man["config"] = put(json.dumps(cfg).encode(), man["config"]["mediaType"])
m = put(json.dumps(man).encode(), man["mediaType"])
m["annotations"] = {"org.opencontainers.image.ref.name": "v"}
json.dump({"schemaVersion": 2, "manifests": [m]}, open(out + "/index.json", "w"))
PY
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "makes a user: run as root"
	command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
	if getent passwd "$IM_USER" >/dev/null; then
		IM_UID=$(id -u "$IM_USER")
		for pid in $(im_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
		userdel -r -f "$IM_USER" >/dev/null 2>&1 || userdel -f "$IM_USER"
	fi
	IM_UID=$(im_free_id)
	IM_DIR=$(mktemp -d /tmp/berth-img-rootless.XXXXXX)
	chmod 0755 "$IM_DIR"
	useradd -u "$IM_UID" -U -m -d "$IM_DIR/home" -s /bin/sh "$IM_USER"
	IM_GID=$(id -g "$IM_USER")
	mkdir -m 0755 "$IM_DIR/bin"
	cp "$BERTH" "$(dirname "$BERTH")/berth-image" "$IM_DIR/bin/"
	chmod 0755 "$IM_DIR/bin/berth" "$IM_DIR/bin/berth-image"
	"$BERTH_SRC_DIR/tests/image/make-fixtures.sh" "$IM_DIR/fx" >/dev/null 2>&1
	user_layout "$IM_DIR/fx"
	chmod -R a+rX "$IM_DIR/fx"
	IM_XDG=$IM_DIR/xdg
	mkdir -m 0700 "$IM_XDG"
	chown "$IM_UID:$IM_GID" "$IM_XDG"
	export IM_UID IM_GID IM_DIR IM_XDG
}

teardown_file() {
	[ -n "${IM_UID:-}" ] || return 0
	for pid in $(im_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
	userdel -r -f "$IM_USER" >/dev/null 2>&1 || true
	[ -z "${IM_DIR:-}" ] || rm -rf "$IM_DIR"
}

setup() {
	requires_berth "images are berth's own verbs"
}

teardown() {
	for pid in $(im_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
	rm -rf "$IM_DIR/home/.local" "$IM_XDG/berth" "$IM_DIR/home/b"
}

# run_user ARGS...: berth ARGS as the user, like bats' run (stderr in $stderr).
run_user() {
	local out=$BATS_TEST_TMPDIR/out errf=$BATS_TEST_TMPDIR/err
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" setpriv --reuid="$IM_UID" --regid="$IM_GID" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$IM_DIR/home" XDG_RUNTIME_DIR="$IM_XDG" \
		"$IM_DIR/bin/berth" "$@" >"$out" 2>"$errf" </dev/null || status=$?
	output=$(cat "$out")
	stderr=$(cat "$errf")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	echo "# (as $IM_USER) berth $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ -z "$stderr" ] || printf 'stderr: %s\n' "$stderr"
}

# Nothing of a run left: no state, no bundle, no process of the user.
assert_nothing_left() {
	[ -z "$(ls -A "$IM_XDG/berth" 2>/dev/null)" ]
	[ -z "$(ls -A "$IM_DIR"/home/.local/share/berth/containers/* 2>/dev/null)" ]
	retry 3 0.05 eval '[ -z "$(im_user_pids)" ]'
}

@test "rootless run --image: a non-root User starts as itself, reads its 0700 home, exits with its status" {
	run_user run --image "oci:$IM_DIR/fx/user:v" c1 -- sh -c \
		'busybox id -u; busybox id -g; pwd; read -r l </home/app/secret; echo "$l"; exit 3'
	[ "$status" -eq 3 ]
	[ "${lines[0]}" = 1000 ] && [ "${lines[1]}" = 1000 ] && [ "${lines[2]}" = /home/app ]
	[ "${lines[3]}" = "for app only" ]
	assert_nothing_left
	# The store is the user's own, under ~/.local/share/berth.
	[ "$(stat -c %u "$IM_DIR/home/.local/share/berth/blobs")" = "$IM_UID" ]
}

@test "rootless run --image: an image without a User runs as root inside, the user outside" {
	run_user run --image "oci:$IM_DIR/fx/oci" c2 -- sh -c 'busybox id -u; echo x >/made; cat /proc/self/uid_map'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "$(echo "${lines[1]}" | xargs)" = "0 $IM_UID 1" ]
	assert_nothing_left
}

@test "rootless bundle create --image: config maps the image's User to the user; berth run -b starts it" {
	run_user bundle create --image "oci:$IM_DIR/fx/user:v" "$IM_DIR/home/b" -- sh -c 'busybox id -u'
	[ "$status" -eq 0 ]
	[ "$(jq -c '.linux.uidMappings' "$IM_DIR/home/b/config.json")" = "[{\"containerID\":1000,\"hostID\":$IM_UID,\"size\":1}]" ]
	[ "$(jq -c '.process.user' "$IM_DIR/home/b/config.json")" = '{"uid":1000,"gid":1000}' ]
	run_user run -b "$IM_DIR/home/b" c3
	[ "$status" -eq 0 ] && [ "$output" = 1000 ]
	run_user bundle rm "$IM_DIR/home/b"
	[ "$status" -eq 0 ] && [ ! -e "$IM_DIR/home/b" ]
}
