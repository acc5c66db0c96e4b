//go:build tools

// Package tools names the upstream etcd programs this module builds, so that
// `go mod tidy` keeps their dependencies. Nothing here is compiled.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
