// Command kubetutor teaches how Kubernetes works inside by having the
// learner build a cluster by hand from its binaries.
package main

import (
	"os"

	"github.com/kubetutor/kubetutor/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
