# `up`: certificates, configuration, then etcd, the control plane, containerd and the kubelet,
# each a process of its own (pid file and log in the state directory); waits for a Ready node.

# start NAME PROGRAM ARGS...: runs PROGRAM in its own session, logging to logs/NAME.log.
start() {
  local name=$1
  shift
  setsid "$@" >"$RUN_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/pids/$name"
}

# failed NAME WHAT: the component did not come up; shows the end of its log.
failed() {
  tail -n 20 "$RUN_DIR/logs/$1.log" >&2 || true
  die "$2 did not become ready in time (log: $RUN_DIR/logs/$1.log)" "run \`scripts/k8s-testbed down\` to clean up, then read the log above"
}

etcd_ctl() {
  etcdctl --endpoints "https://127.0.0.1:$ETCD_PORT" --cacert "$PKI/ca.crt" \
    --cert "$PKI/apiserver-etcd-client.crt" --key "$PKI/apiserver-etcd-client.key" "$@"
}

start_etcd() {
  local url=https://127.0.0.1:$ETCD_PORT peer=https://127.0.0.1:$ETCD_PEER_PORT
  start etcd etcd --name cairn-testbed --data-dir "$RUN_DIR/etcd" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "cairn-testbed=$peer" --initial-cluster-state new \
    --cert-file "$PKI/etcd-server.crt" --key-file "$PKI/etcd-server.key" \
    --trusted-ca-file "$PKI/ca.crt" --client-cert-auth \
    --peer-cert-file "$PKI/etcd-server.crt" --peer-key-file "$PKI/etcd-server.key" \
    --peer-trusted-ca-file "$PKI/ca.crt" --peer-client-cert-auth
  wait_for 60 etcd etcd_ctl endpoint health || failed etcd etcd
}

start_apiserver() {
  start kube-apiserver kube-apiserver --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$APISERVER_PORT" --etcd-servers "https://127.0.0.1:$ETCD_PORT" \
    --etcd-cafile "$PKI/ca.crt" --etcd-certfile "$PKI/apiserver-etcd-client.crt" \
    --etcd-keyfile "$PKI/apiserver-etcd-client.key" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types Hostname \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction,PodSecurity,ValidatingAdmissionPolicy \
    --admission-control-config-file "$RUN_DIR/admission.yaml" \
    --encryption-provider-config "$RUN_DIR/encryption.yaml" --profiling=false
  wait_for 120 kube-apiserver kc get --raw /readyz || failed kube-apiserver kube-apiserver
}

start_controllers() {
  start kube-controller-manager kube-controller-manager --bind-address 127.0.0.1 \
    --secure-port "$KCM_PORT" --cert-dir "$RUN_DIR/kcm" \
    --kubeconfig "$RUN_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$RUN_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$RUN_DIR/controller-manager.kubeconfig" \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials --leader-elect=false --profiling=false
  start kube-scheduler kube-scheduler --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
    --cert-dir "$RUN_DIR/scheduler" --kubeconfig "$RUN_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig "$RUN_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$RUN_DIR/scheduler.kubeconfig" --leader-elect=false --profiling=false
}

make_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "cannot make the pod bridge: $BRIDGE exists" "run \`scripts/k8s-testbed down\` first"
  ip link add "$BRIDGE" type bridge
  ip addr add "$(bridge_ip)/${POD_CIDR#*/}" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

start_containerd() {
  start containerd containerd --config "$RUN_DIR/containerd/config.toml"
  wait_for 60 containerd ctr --address "$CTRD_SOCK" version || failed containerd containerd
  ctr --address "$CTRD_SOCK" -n k8s.io images import --base-name "${PAUSE_IMAGE%:*}" \
    "$K8S_BIN/pause.oci.tar" >/dev/null || die "cannot import the pause image into containerd" "see $RUN_DIR/logs/containerd.log"
}

start_kubelet() {
  start kubelet kubelet --config "$RUN_DIR/kubelet.yaml" --kubeconfig "$RUN_DIR/kubelet.kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$(bridge_ip)" --root-dir "$RUN_DIR/kubelet" \
    --cert-dir "$RUN_DIR/kubelet/pki"
  wait_for "$READY_TIMEOUT" "node $NODE_NAME" kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s ||
    failed kubelet "the node"
  wait_for 60 "default service account" kc get serviceaccount default || failed kube-controller-manager "the default service account"
}

save_host_state() {
  local s
  for s in "${SAVED_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$RUN_DIR/sysctl.saved"
  iptables-save >"$RUN_DIR/iptables.saved" 2>/dev/null || true
  ip6tables-save >"$RUN_DIR/ip6tables.saved" 2>/dev/null || true
  nft list tables >"$RUN_DIR/nft-tables.saved" 2>/dev/null || true
  # containerd 1.6 puts its shims' sockets in /run/containerd/s whatever its state dir is.
  [ -e /run/containerd ] && touch "$RUN_DIR/run-containerd.existed"
  return 0
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "cannot start the testbed: not root" "the kubelet and containerd need root; run it as root"
  local t
  for t in containerd containerd-shim-runc-v2 runc ctr openssl umoci ip iptables-save nft; do
    command -v "$t" >/dev/null || die "cannot start the testbed: $t is missing" "apt-get install containerd runc containernetworking-plugins openssl umoci iproute2 iptables nftables"
  done
  [ -x "$CNI_BIN_DIR/bridge" ] || die "cannot start the testbed: no CNI bridge plugin in $CNI_BIN_DIR" "apt-get install containernetworking-plugins"
  if is_up; then log "already up"; echo "$KUBECONFIG_ADMIN"; return 0; fi
  [ -e "$RUN_DIR" ] && die "cannot start the testbed: $RUN_DIR is left from an earlier run" "run \`scripts/k8s-testbed down\` first"
  cmd_build
  local t0
  t0=$(now_ms)
  mkdir -p "$RUN_DIR/logs" "$RUN_DIR/pids"
  save_host_state
  make_pki
  local u
  for u in admin controller-manager scheduler kubelet; do kubeconfig "$RUN_DIR/$u.kubeconfig" "$u"; done
  write_control_plane_config
  write_containerd_config
  write_kubelet_config
  start_etcd
  start_apiserver
  start_controllers
  make_bridge
  start_containerd
  start_kubelet
  echo $(($(now_ms) - t0)) >"$RUN_DIR/up-ms"
  log "up in $(($(now_ms) - t0)) ms; node $NODE_NAME Ready; kubectl --kubeconfig $KUBECONFIG_ADMIN"
  echo "$KUBECONFIG_ADMIN"
}
