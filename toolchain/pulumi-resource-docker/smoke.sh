#!/usr/bin/env bash
# Smoke check of the bridged docker plugin against a real engine: a private podman service (its own
# storage, networks and socket, so it touches no other engine on the machine), a tiny local image
# built from Debian's busybox-static, and a Pulumi Python program using the PyPI pulumi-docker SDK:
#   up (Network, Volume, RemoteImage kept locally, Container with port/volume/envs/healthcheck/wait)
#   -> the published port answers -> a second up changes nothing -> destroy removes everything.
#
# Usage (as root, after scripts/bootstrap docker): toolchain/pulumi-resource-docker/smoke.sh
# Needs podman and runc (apt-get install -y podman runc). K2_SMOKE_KEEP=1 keeps the work directory.
set -euo pipefail
. "$(dirname "$0")/../../scripts/env.sh"

work=$(mktemp -d /tmp/k2-docker-smoke.XXXXXX)
log() { printf '==> %s\n' "$*"; }
fail() { printf '!!! smoke failed: %s (work dir %s kept)\n' "$*" "$work" >&2; K2_SMOKE_KEEP=1; exit 1; }

for tool in podman runc pulumi; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is missing (podman/runc: apt-get install -y podman runc; pulumi: scripts/bootstrap docker)"
done
[ -x "$K2_DOCKER_PROVIDER_BIN/pulumi-resource-docker" ] || fail "the docker plugin is not built: run scripts/bootstrap docker"

# --- engine ---------------------------------------------------------------------------------------
# runc: crun refuses this machine kind's hybrid cgroups. Ulimits: podman's defaults exceed the hard
# limits here ("setrlimit ... operation not permitted"). Storage and state are private to $work (vfs: no
# mounts to undo, and the image is 2 MB). Network definitions are NOT private: they stay in the machine's
# CNI directory, so that podman picks a bridge name and subnet that no other podman user here has (with
# a private directory, two services can pick the same cni-podmanN bridge and subnet). Hence this script
# never resets podman or prunes networks: it removes its own network by name.
net_name=k2-smoke-net
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
tmp_dir = "$work/tmp"
EOF
cat >"$work/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
export DOCKER_HOST=unix://$work/podman.sock

service_pid="" ticker_pid=""
cleanup() {
  local rc=$?
  [ -n "$ticker_pid" ] && kill "$ticker_pid" 2>/dev/null
  if [ -n "$service_pid" ]; then
    podman rm -af -t 0 >/dev/null 2>&1 || true   # this service's storage: only the smoke's containers
    if [ -n "$net_name" ]; then
      podman network rm -f "$net_name" >/dev/null 2>&1 || true
      rm -rf "/var/lib/cni/networks/$net_name"     # CNI host-local's address records for it
    fi
    kill "$service_pid" 2>/dev/null; wait "$service_pid" 2>/dev/null || true
  fi
  if [ "${K2_SMOKE_KEEP:-}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
if podman network exists "$net_name" 2>/dev/null; then
  net_name=""  # not ours: the cleanup must leave it
  fail "a network named k2-smoke-net exists already (another smoke run?); if it is stale: podman network rm k2-smoke-net"
fi

log "podman service on $DOCKER_HOST"
podman system service --time=0 "$DOCKER_HOST" >"$work/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 50); do [ -S "$work/podman.sock" ] && break; sleep 0.2; done
[ -S "$work/podman.sock" ] || fail "podman service did not start: $(cat "$work/service.log")"
# Without systemd podman schedules no health checks: run them ourselves (what Docker does by itself).
(while :; do
  for id in $(podman ps -q 2>/dev/null); do podman healthcheck run "$id" >/dev/null 2>&1 || true; done
  sleep 1
done) &
ticker_pid=$!

# --- image (no registry reachable: import a busybox root file system) ----------------------------
image=localhost/k2-test:1
deb_dir=$K2_CACHE/downloads/busybox-static
if ! ls "$deb_dir"/busybox-static_*.deb >/dev/null 2>&1; then
  mkdir -p "$deb_dir.partial" && (cd "$deb_dir.partial" && apt-get download busybox-static >/dev/null 2>&1) ||
    fail "apt-get download busybox-static"
  mv "$deb_dir.partial" "$deb_dir"
fi
mkdir -p "$work/deb" "$work/rootfs/bin" "$work/rootfs/www" "$work/rootfs/tmp"
dpkg-deb -x "$(ls "$deb_dir"/busybox-static_*.deb | head -1)" "$work/deb"
cp "$work/deb/bin/busybox" "$work/rootfs/bin/"
for applet in sh wget httpd cat ls sleep; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo "k2 smoke" >"$work/rootfs/www/index.html"
tar -C "$work/rootfs" -c . |
  podman import --change 'CMD ["/bin/busybox","httpd","-f","-p","8080","-h","/www"]' - "$image" >"$work/import.log" 2>&1 ||
  fail "podman import: $(cat "$work/import.log")"
log "image $image: $(podman image inspect -f '{{.Id}}' "$image")"

# --- Pulumi program --------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/prog" "$work/state"
cat >"$work/prog/Pulumi.yaml" <<'EOF'
name: k2-docker-smoke
runtime: python
EOF
cat >"$work/prog/__main__.py" <<'EOF'
import pulumi
import pulumi_docker as docker

cfg = pulumi.Config()
net = docker.Network("net", name="k2-smoke-net")
data = docker.Volume("data", name="k2-smoke-data")
image = docker.RemoteImage("image", name=cfg.require("image"), keep_locally=True)
web = docker.Container(
    "web",
    name="k2-smoke-web",
    image=image.image_id,
    networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name, aliases=["web"])],
    ports=[docker.ContainerPortArgs(internal=8080, external=cfg.require_int("port"), ip="127.0.0.1")],
    envs=["K2_SMOKE=1"],
    volumes=[docker.ContainerVolumeArgs(volume_name=data.name, container_path="/data")],
    healthcheck=docker.ContainerHealthcheckArgs(
        tests=["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval="2s", timeout="5s", retries=10, start_period="1s"),
    wait=True,
    wait_timeout=60,
    restart="unless-stopped",
)
pulumi.export("image_id", image.image_id)
pulumi.export("container", web.name)
EOF
export PULUMI_BACKEND_URL=file://$work/state PULUMI_CONFIG_PASSPHRASE=smoke
cd "$work/prog"
pulumi stack init smoke >/dev/null
pulumi config set docker:host "$DOCKER_HOST" >/dev/null
pulumi config set image "$image" >/dev/null
pulumi config set port "$port" >/dev/null

log "pulumi up"
start=$SECONDS
pulumi up --yes --skip-preview --non-interactive >"$work/up1.log" 2>&1 || { cat "$work/up1.log"; fail "first up"; }
log "  done in $((SECONDS - start))s"
body=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/', timeout=5).read().decode().strip())") ||
  fail "the published port 127.0.0.1:$port does not answer"
[ "$body" = "k2 smoke" ] || fail "unexpected answer on 127.0.0.1:$port: $body"
[ "$(podman inspect -f '{{.State.Health.Status}}' k2-smoke-web)" = healthy ] || fail "container not healthy"
# (Captured first: with pipefail, grep -q closing the pipe early would fail the pipeline.)
env_list=$(podman inspect -f '{{range .Config.Env}}{{println .}}{{end}}' k2-smoke-web)
grep -qx K2_SMOKE=1 <<<"$env_list" || fail "env not set: $env_list"
mount_list=$(podman inspect -f '{{range .Mounts}}{{.Name}} {{.Destination}}{{println}}{{end}}' k2-smoke-web)
grep -q "^k2-smoke-data /data" <<<"$mount_list" || fail "volume not mounted: $mount_list"
# The alias is checked as configured, not resolved: name resolution on a CNI network needs the dnsname
# plugin (Debian: golang-github-containernetworking-plugin-dnsname), which this check does not install.
podman inspect -f '{{json .NetworkSettings.Networks}}' k2-smoke-web | python3 -c '
import json, sys; nets = json.load(sys.stdin); assert "web" in (nets["k2-smoke-net"].get("Aliases") or []), nets' ||
  fail "not on k2-smoke-net with alias web"
[ "$(pulumi stack output image_id)" = "$(podman image inspect -f '{{.Id}}' "$image" | sed 's/^/sha256:/;s/^sha256:sha256:/sha256:/')" ] ||
  fail "image_id $(pulumi stack output image_id) is not the local image"
log "  port 127.0.0.1:$port answers, container healthy, env, volume, network and alias in place"

log "pulumi up again (expects no changes)"
pulumi preview --expect-no-changes --diff --non-interactive >"$work/preview2.log" 2>&1 || { cat "$work/preview2.log"; fail "preview shows changes"; }
pulumi up --yes --expect-no-changes --non-interactive >"$work/up2.log" 2>&1 || { cat "$work/up2.log"; fail "second up changed something"; }
log "  no changes"

log "pulumi refresh, then preview (expects no changes: what the engine reports matches the state)"
pulumi refresh --yes --skip-preview --non-interactive >"$work/refresh.log" 2>&1 || { cat "$work/refresh.log"; fail "refresh"; }
pulumi preview --expect-no-changes --diff --non-interactive >"$work/preview3.log" 2>&1 ||
  { cat "$work/preview3.log"; fail "preview after refresh shows changes"; }
log "  no changes"

log "pulumi destroy"
pulumi destroy --yes --skip-preview --non-interactive >"$work/destroy.log" 2>&1 || { cat "$work/destroy.log"; fail "destroy"; }
[ -z "$(podman ps -aq)" ] || fail "containers left: $(podman ps -a)"
! podman network exists k2-smoke-net || fail "network left"
! podman volume exists k2-smoke-data || fail "volume left"
podman image exists "$image" || fail "keep_locally: the image was removed"
log "  container, network and volume removed; image kept (keep_locally)"
log "docker plugin $K2_DOCKER_PROVIDER_VERSION smoke passed"
