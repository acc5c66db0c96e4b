# Shared settings of the Kubernetes testbed (sourced by scripts/k8s-testbed).
# Every value can be overridden from the environment; everything listens on 127.0.0.1.

K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
K8S_CACHE=${CAIRN_K8S_CACHE:-$HOME/.cache/cairn/k8s}
K8S_BIN=$K8S_CACHE/$K8S_VERSION
ETCD_BIN=$K8S_CACHE/etcd-$ETCD_VERSION
RUN_DIR=${CAIRN_K8S_STATE:-$K8S_CACHE/run}
ETCD_PORT=${CAIRN_K8S_ETCD_PORT:-23790}
ETCD_PEER_PORT=${CAIRN_K8S_ETCD_PEER_PORT:-23800}
APISERVER_PORT=${CAIRN_K8S_APISERVER_PORT:-16443}
KCM_PORT=${CAIRN_K8S_KCM_PORT:-10257}
SCHEDULER_PORT=${CAIRN_K8S_SCHEDULER_PORT:-10259}
KUBELET_PORT=${CAIRN_K8S_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${CAIRN_K8S_KUBELET_HEALTHZ_PORT:-10248}
POD_CIDR=${CAIRN_K8S_POD_CIDR:-10.244.0.0/24}
SERVICE_CIDR=${CAIRN_K8S_SERVICE_CIDR:-10.96.0.0/24}
BRIDGE=${CAIRN_K8S_BRIDGE:-cairnk8s0}
# The node is named localhost: the apiserver reaches the kubelet by the node's Hostname address,
# which resolves to 127.0.0.1 where the kubelet listens (a node IP cannot be a loopback address).
NODE_NAME=localhost
PAUSE_IMAGE=cairn.local/k8s-testbed/pause:v1
CNI_BIN_DIR=${CAIRN_K8S_CNI_BIN:-/usr/lib/cni}
READY_TIMEOUT=${CAIRN_K8S_READY_TIMEOUT:-300}

# The sysctls the kubelet sets (protectKernelDefaults: false) and the CNI may touch;
# `up` records their values and `down` restores them.
SAVED_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward)

CTRD_SOCK=$RUN_DIR/containerd/containerd.sock
KUBECONFIG_ADMIN=$RUN_DIR/admin.kubeconfig
export PATH=$K8S_BIN:$ETCD_BIN:$PATH:/usr/sbin:/sbin

log() { printf 'k8s-testbed: %s\n' "$*" >&2; }
die() {
  printf 'k8s-testbed: %s\n' "$1" >&2
  [ -n "${2:-}" ] && printf '  hint: %s\n' "$2" >&2
  exit 1
}
now_ms() { date +%s%3N; }
kc() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# wait_for SECONDS WHAT COMMAND...: runs COMMAND every 0.5 s until it succeeds.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.5
  done
  log "$what ready"
}
