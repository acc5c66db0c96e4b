# Certificates made at `up` with openssl: a CA, serving certs for etcd, the apiserver and the
# kubelet, client certs for every component and the admin, the service-account key pair.
# ECDSA P-256 keys (fast to make, accepted by every component); valid for 7 days.

PKI=$RUN_DIR/pki

# issue NAME SUBJECT [SAN]: a key and a certificate signed by the testbed's CA.
issue() {
  local name=$1 subject=$2 san=${3:-} ext
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 7 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext" "$PKI/$name.csr"
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=cairn-k8s-testbed-ca" -days 7 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt" 2>/dev/null
  local svc_ip
  svc_ip=$(first_service_ip)
  issue etcd-server "/CN=etcd" "IP:127.0.0.1,DNS:localhost"
  issue apiserver-etcd-client "/CN=kube-apiserver-etcd-client"
  issue apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  issue admin "/O=system:masters/CN=cairn-testbed-admin"
  issue controller-manager "/CN=system:kube-controller-manager"
  issue scheduler "/CN=system:kube-scheduler"
  issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  issue kubelet-server "/CN=$NODE_NAME" "IP:127.0.0.1,IP:$(bridge_ip),DNS:$NODE_NAME"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  chmod 600 "$PKI"/*.key
}

# first_service_ip: the `kubernetes` Service's address, the first one of SERVICE_CIDR.
first_service_ip() {
  local base=${SERVICE_CIDR%/*}
  printf '%s.%s' "${base%.*}" $((${base##*.} + 1))
}

# kubeconfig FILE USER: a kubeconfig with USER's client cert for the apiserver on 127.0.0.1.
kubeconfig() {
  local file=$1 user=$2
  cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: cairn-testbed
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$user.crt")
    client-key-data: $(base64 -w0 "$PKI/$user.key")
contexts:
- name: cairn-testbed
  context: {cluster: cairn-testbed, user: $user}
current-context: cairn-testbed
KUBECONFIG
  chmod 600 "$file"
}
