# The configuration files `up` writes into the state directory.

write_control_plane_config() {
  # Secrets are encrypted in etcd with a key made at `up` (secretbox: XSalsa20-Poly1305).
  cat >"$RUN_DIR/encryption.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox:
      keys:
      - name: key1
        secret: $(head -c 32 /dev/urandom | base64 -w0)
  - identity: {}
YAML
  chmod 600 "$RUN_DIR/encryption.yaml"
  # Pod Security Admission: baseline enforced by default, restricted audited and warned.
  cat >"$RUN_DIR/admission.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline, enforce-version: latest, audit: restricted, audit-version: latest, warn: restricted, warn-version: latest}
    exemptions: {usernames: [], runtimeClasses: [], namespaces: [kube-system]}
YAML
}

write_containerd_config() {
  local c=$RUN_DIR/containerd
  mkdir -p "$c/certs.d" "$RUN_DIR/cni/net.d" "$RUN_DIR/cni/ipam"
  cat >"$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  # Root here may lack CAP_SYS_RESOURCE (this VM's does): no process can then lower its
  # oom_score_adj, and the sandbox's -998 fails in runc. Clamp to containerd's own instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$RUN_DIR/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$c/certs.d"
TOML
  # The pod network: one bridge of the testbed's own, no default route in the pods, no NAT,
  # no port mapping — pods reach each other and the host's bridge address, nothing else.
  cat >"$RUN_DIR/cni/net.d/10-cairn-testbed.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "cairn-testbed",
  "plugins": [{
    "type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false,
    "ipam": {"type": "host-local", "dataDir": "$RUN_DIR/cni/ipam",
             "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$(bridge_ip)"}]]}
  }]
}
JSON
}

# bridge_ip: the host's address on the pod bridge, the first one of POD_CIDR.
bridge_ip() {
  local base=${POD_CIDR%/*}
  printf '%s.%s' "${base%.*}" $((${base##*.} + 1))
}

write_kubelet_config() {
  mkdir -p "$RUN_DIR/kubelet" "$RUN_DIR/pod-logs"
  cat >"$RUN_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podLogsDir: $RUN_DIR/pod-logs
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
maxPods: 50
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
protectKernelDefaults: false
serializeImagePulls: false
YAML
}
