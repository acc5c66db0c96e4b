# `status`: is the node Ready, which versions run, which processes (pid) are alive.

cmd_status() {
  if [ ! -d "$RUN_DIR" ]; then
    echo "down (no state in $RUN_DIR)"
    return 3
  fi
  local c pid ready
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do
    if pid=$(component_pid "$c"); then printf '%-24s pid %s\n' "$c" "$pid"; else printf '%-24s not running\n' "$c"; fi
  done
  is_up || { echo "node: unknown (the apiserver is not running)"; return 3; }
  ready=$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  printf 'node %s Ready: %s\n' "$NODE_NAME" "${ready:-unknown}"
  printf 'server %s, kubelet %s, etcd %s, %s\n' \
    "$(kc version -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -n 1)" \
    "$(kc get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.kubeletVersion}' 2>/dev/null)" \
    "$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')" \
    "$(kc get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}' 2>/dev/null)"
  echo "kubeconfig: $KUBECONFIG_ADMIN"
  [ "$ready" = True ]
}

# cmd_registry ADDRESS: lets the node pull from a plain-HTTP registry on 127.0.0.1 (ADDRESS is
# 127.0.0.1:PORT), the way cairn's e2e tests serve their images.
cmd_registry() {
  local address=${1:-}
  case $address in 127.0.0.1:[0-9]*) ;; *) die "cannot trust registry '$address'" "give 127.0.0.1:PORT" ;; esac
  [ -d "$RUN_DIR/containerd/certs.d" ] || die "cannot trust a registry: the testbed is down" "run \`scripts/k8s-testbed up\` first"
  mkdir -p "$RUN_DIR/containerd/certs.d/$address"
  cat >"$RUN_DIR/containerd/certs.d/$address/hosts.toml" <<TOML
server = "http://$address"
[host."http://$address"]
  capabilities = ["pull", "resolve"]
TOML
}
