package e2e

import (
	"os"
	"strconv"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubetutor/kubetutor/steps"
)

type clientcmdConfig = clientcmdapi.Config

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// nSteps is the number of steps, as the walkthrough and the demo print it
// ("Step 3/N").
var nSteps = strconv.Itoa(len(steps.IDs()))
