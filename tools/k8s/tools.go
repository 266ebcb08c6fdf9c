//go:build tools

// Package tools pins the control-plane commands in go.mod/go.sum so that
// `go build` of them needs nothing but the module proxy.  This file is never
// compiled (build tag), it only records the imports for `go mod tidy`.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
