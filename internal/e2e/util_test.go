package e2e

import (
	"os"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

type clientcmdConfig = clientcmdapi.Config

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
