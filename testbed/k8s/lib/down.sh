# `down`: stops every process the testbed started and removes what they left on the host:
# mounts under the state directory, the pod bridge and its veths, the iptables chains the
# kubelet and CNI made, the kubepods cgroups, the sysctls the kubelet changed, the state dir.

COMPONENTS=(kube-scheduler kube-controller-manager kube-apiserver)

# stop_pids PID...: SIGTERM to all, up to 10 s grace, then SIGKILL to those still there.
stop_pids() {
  local pid i alive
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for i in $(seq 1 50); do
    alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.2
  done
  kill -KILL "$@" 2>/dev/null || true
}

component_pid() {
  local f=$RUN_DIR/pids/$1 pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

is_up() { component_pid kube-apiserver >/dev/null; }

# kubepods_cgroups: every cgroup directory of the kubelet's pod hierarchy, deepest first.
kubepods_cgroups() {
  local root
  for root in /sys/fs/cgroup/*/kubepods* /sys/fs/cgroup/kubepods*; do
    [ -d "$root" ] && find "$root" -depth -type d
  done
}

# shim_pids: containerd shims serving this testbed's containerd (their command line names its socket).
shim_pids() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' 2>/dev/null <"$f" | grep -q -- "-address $CTRD_SOCK " && { f=${f#/proc/}; echo "${f%/cmdline}"; }
  done
  return 0
}

stop_processes() {
  local c pid d
  local -a pids=()
  pid=$(component_pid kubelet) && stop_pids "$pid"
  for c in "${COMPONENTS[@]}"; do pid=$(component_pid "$c") && pids+=("$pid"); done
  stop_pids "${pids[@]}"
  pid=$(component_pid etcd) && stop_pids "$pid" # last: the apiserver needs it to shut down
  for d in $(kubepods_cgroups); do
    for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  mapfile -t pids < <(shim_pids)
  stop_pids "${pids[@]}"
  pid=$(component_pid containerd) && stop_pids "$pid"
  return 0
}

unmount_all() {
  local pass m
  for pass in 1 2 3 4 5; do
    mapfile -t mounts < <(awk -v d="$RUN_DIR" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    [ "${#mounts[@]}" = 0 ] && return 0
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
  log "some mounts under $RUN_DIR remain; see /proc/self/mountinfo"
}

remove_links() {
  local l
  for l in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{ print $2 }'); do
    ip link del "${l%@*}" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
}

# remove_chains SAVE-CMD IPTABLES-CMD SAVED-FILE: drops the KUBE-/CNI- chains made since `up`
# (all of them when there is no record of what was there before) and the rules that jump to them.
remove_chains() {
  local save=$1 ipt=$2 saved=$3 table="" line chain
  local -a new=()
  while IFS= read -r line; do
    case $line in
    \**) table=${line#\*} ;;
    :KUBE-* | :CNI-*)
      chain=${line#:}
      chain=${chain%% *}
      grep -q "^:$chain " "$saved" 2>/dev/null || new+=("$table $chain")
      ;;
    esac
  done < <($save 2>/dev/null)
  local entry t
  for entry in "${new[@]}"; do
    t=${entry% *}
    chain=${entry#* }
    while IFS= read -r line; do
      [ -n "$line" ] && { eval "$ipt -t $t -D ${line#-A }" 2>/dev/null || true; }
    done <<<"$($save -t "$t" 2>/dev/null | grep -E -- "^-A .* -j $chain( |\$)" || true)"
  done
  for entry in "${new[@]}"; do $ipt -t "${entry% *}" -F "${entry#* }" 2>/dev/null || true; done
  for entry in "${new[@]}"; do $ipt -t "${entry% *}" -X "${entry#* }" 2>/dev/null || true; done
}

# remove_empty_tables: nft tables iptables-nft made for those chains, now empty, new since `up`.
remove_empty_tables() {
  local fam name
  while read -r _ fam name; do
    grep -qx "table $fam $name" "$RUN_DIR/nft-tables.saved" 2>/dev/null && continue
    [ -f "$RUN_DIR/nft-tables.saved" ] || continue
    case $fam in ip | ip6) ;; *) continue ;; esac
    [ "$(nft list table "$fam" "$name" 2>/dev/null | grep -cvE '^\s*(table |chain |type |policy |\}|$)')" = 0 ] || continue
    nft delete table "$fam" "$name" 2>/dev/null || true
  done < <(nft list tables 2>/dev/null)
}

restore_sysctls() {
  [ -f "$RUN_DIR/sysctl.saved" ] || return 0
  local line
  while IFS= read -r line; do sysctl -q -w "$line" >/dev/null 2>&1 || log "cannot restore $line"; done <"$RUN_DIR/sysctl.saved"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "cannot stop the testbed: not root" "run it as root, as \`up\` was"
  local d
  stop_processes
  unmount_all
  remove_links
  remove_chains iptables-save iptables "$RUN_DIR/iptables.saved"
  remove_chains ip6tables-save ip6tables "$RUN_DIR/ip6tables.saved"
  remove_empty_tables
  for d in $(kubepods_cgroups); do rmdir "$d" 2>/dev/null || log "cannot remove cgroup $d"; done
  restore_sysctls
  [ -d "$RUN_DIR" ] && [ ! -e "$RUN_DIR/run-containerd.existed" ] && rm -rf /run/containerd
  unmount_all
  rm -rf "$RUN_DIR"
  log "down"
}
