package room

import "github.com/kubetutor/kubetutor/checks"

func checkResult(name, status, message, hint string) checks.Result {
	return checks.Result{Name: name, Status: checks.Status(status), Message: message, Hint: hint}
}
