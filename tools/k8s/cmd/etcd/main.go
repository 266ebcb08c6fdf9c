// Command etcd is the stock etcd server (go.etcd.io/etcd/server/v3, the
// version k8s.io/kubernetes itself depends on), built from the module graph
// so the tests need no separately packaged etcd.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
