# `build`: compiles the testbed's programs from upstream Go modules into the cache keyed by
# version, unless they are already there. Runs under `nice -n 19`; records the wall-clock time.

K8S_PROGRAMS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

# version_ldflags: what Kubernetes' own build stamps, so every binary reports $K8S_VERSION.
version_ldflags() {
  local minor=${K8S_VERSION#v1.} p flags=""
  minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    flags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$flags"
}

# record_time DIR START: the wall-clock seconds of the build in DIR/build-seconds; the first one
# (a cold Go cache, as far as this cache knows) also in DIR/cold-build-seconds.
record_time() {
  echo $(($(date +%s) - $2)) >"$1/build-seconds"
  [ -s "$1/cold-build-seconds" ] || cp "$1/build-seconds" "$1/cold-build-seconds"
}

build_k8s() {
  local p missing=0
  for p in "${K8S_PROGRAMS[@]}"; do [ -x "$K8S_BIN/$p" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  log "building Kubernetes $K8S_VERSION into $K8S_BIN (nice -n 19; 30-60 min on a cold cache)"
  local start tmp=$K8S_BIN/.tmp
  start=$(date +%s)
  mkdir -p "$tmp"
  (cd "$TESTBED_DIR" && CGO_ENABLED=0 nice -n 19 go build -ldflags "-s -w $(version_ldflags)" \
    -o "$tmp/" $(printf 'k8s.io/kubernetes/cmd/%s ' "${K8S_PROGRAMS[@]}")) ||
    die "cannot build Kubernetes $K8S_VERSION" "see the go output above; the module proxy must serve k8s.io/kubernetes@$K8S_VERSION"
  for p in "${K8S_PROGRAMS[@]}"; do mv "$tmp/$p" "$K8S_BIN/$p"; done
  rm -rf "$tmp"
  record_time "$K8S_BIN" "$start"
  log "built Kubernetes in $(cat "$K8S_BIN/build-seconds") s"
}

# build_own: the testbed's own programs, pause and hello (seconds), and their images.
build_own() {
  if [ ! -x "$K8S_BIN/pause" ] || [ ! -x "$K8S_BIN/hello" ]; then
    mkdir -p "$K8S_BIN"
    (cd "$TESTBED_DIR" && CGO_ENABLED=0 nice -n 19 go build -ldflags "-s -w" -o "$K8S_BIN/" ./pause ./hello) ||
      die "cannot build the testbed's pause and hello programs" "see the go output above"
    rm -f "$K8S_BIN"/*.oci.tar
  fi
  build_image pause 65535
  build_image hello 65532
}

build_etcd() {
  [ -x "$ETCD_BIN/etcd" ] && [ -x "$ETCD_BIN/etcdctl" ] && return 0
  log "building etcd $ETCD_VERSION into $ETCD_BIN (nice -n 19)"
  local start tmp=$ETCD_BIN/.tmp
  start=$(date +%s)
  mkdir -p "$tmp"
  (cd "$TESTBED_DIR/etcd" && CGO_ENABLED=0 nice -n 19 go build -ldflags "-s -w" -o "$tmp/" \
    go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3) ||
    die "cannot build etcd $ETCD_VERSION" "see the go output above"
  mv "$tmp/server" "$ETCD_BIN/etcd"
  mv "$tmp/etcdctl" "$ETCD_BIN/etcdctl"
  rm -rf "$tmp"
  record_time "$ETCD_BIN" "$start"
}

# build_image NAME UID: an OCI archive ($K8S_BIN/NAME.oci.tar) holding the testbed's program NAME
# as /NAME, made with umoci. The pause image (the pod sandbox; it cannot be pulled here) and
# hello (a tiny HTTP workload for the e2e tests) are made this way.
build_image() {
  local name=$1 uid=$2 work
  [ -s "$K8S_BIN/$name.oci.tar" ] && return 0
  work=$(mktemp -d)
  mkdir -p "$work/root"
  cp "$K8S_BIN/$name" "$work/root/$name"
  (cd "$work" && umoci init --layout layout && umoci new --image layout:v1 &&
    umoci insert --image layout:v1 "root/$name" "/$name" &&
    umoci config --image layout:v1 --config.entrypoint "/$name" --config.user "$uid:$uid" \
      --os linux --architecture amd64 && umoci gc --layout layout &&
    tar -C layout -cf "$K8S_BIN/$name.oci.tar" oci-layout index.json blobs) >/dev/null ||
    { rm -rf "$work"; die "cannot build the $name image" "is umoci installed? (apt-get install umoci)"; }
  rm -rf "$work"
}

cmd_build() {
  command -v go >/dev/null || die "cannot build the testbed: no go toolchain" "install Go 1.26 and set GOPROXY"
  build_etcd
  build_k8s
  build_own
}
