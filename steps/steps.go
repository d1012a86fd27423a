// Package steps holds the order and the promises of the course: the ten steps
// of the talk by stable ID, each with its lesson, hints, commands and the
// checks that prove its effect.
package steps

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/internal/script"
)

// Step is one stage of building the cluster.
type Step struct {
	// ID is stable: people type and script it.
	ID string
	// Title is a short imperative, shown in lists and reports.
	Title string
	// Lesson names the lesson in content/ (the step ID).
	Lesson string
	// Next says what the learner does to pass this step, for "next: ...".
	Next string
	// Hints go from gentle to the exact commands. The last one is derived
	// (it points at the step's commands); write only the gentle ones.
	Hints []string
	// Commands are what the learner types: the runnable blocks of the
	// lesson's "## Commands" section, every host variant, in lesson order.
	// Derived from the lesson (package content); never written here.
	Commands []script.Block
	// Checks prove the step's effect on the live system.
	Checks []checks.Checker
	// Passed says, in one sentence, what just happened when the step passes.
	Passed string
	// WatchKinds are the API resources whose changes can change the verdict,
	// so --watch knows what to watch. Empty means the facts are outside the
	// API server (files, sockets, processes).
	WatchKinds []Kind
}

// Kind is an API resource the runner can watch.
type Kind string

// The kinds the steps watch.
const (
	Deployments Kind = "deployments"
	ReplicaSets Kind = "replicasets"
	Pods        Kind = "pods"
	Events      Kind = "events"
	Nodes       Kind = "nodes"
)

var binaries = []checks.Binary{
	{Program: "kube-apiserver", VersionArgs: []string{"--version"}, Install: "download it into bin/ (kubetutor show tools)"},
	{Program: "kube-controller-manager", VersionArgs: []string{"--version"}, Install: "download it into bin/ (kubetutor show tools)"},
	{Program: "kube-scheduler", VersionArgs: []string{"--version"}, Install: "download it into bin/ (kubetutor show tools)"},
	{Program: "kubelet", VersionArgs: []string{"--version"}, Install: "download it into bin/ (kubetutor show tools)"},
	{Program: "etcd", VersionArgs: []string{"--version"}, Install: "extract etcd from its release tarball into bin/, or apt install etcd-server (kubetutor show tools)"},
	{Program: "kubectl", VersionArgs: []string{"version", "--client"}, Install: "download it into bin/ (kubetutor show tools)"},
}

func binaryChecks() []checks.Checker {
	out := make([]checks.Checker, len(binaries))
	for i, b := range binaries {
		out[i] = b
	}
	return out
}

var all = []Step{
	{
		ID: "tools", Title: "Get the tools and binaries", Lesson: "tools",
		Next: "put the Kubernetes binaries, etcd and kubectl in bin/",
		Hints: []string{
			"You need six programs: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, etcd and kubectl, in bin/ of your work directory or on PATH.",
			"The Kubernetes binaries are single files on dl.k8s.io; etcd comes as a release tarball. Make them executable. `kubetutor fetch` downloads and verifies them all (`--from-source` builds them with Go when only the Go module proxy is reachable).",
		},
		Checks: append(binaryChecks(), checks.VersionSkew{Binaries: binaries}),
		Passed: "Every program of the cluster is here and runs; nothing is running yet.",
	},
	{
		ID: "certs", Title: "Make the TLS certificates and a kubeconfig", Lesson: "certs",
		Next: "create the CA, the server certificate, the service-account keys and admin.conf",
		Hints: []string{
			"Everything talks TLS to the API server. You need a CA, a server certificate signed by it (also used as admin's client certificate), a service-account key pair, and a kubeconfig that embeds the CA.",
			"The server certificate needs SANs for kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster, kubernetes.default.svc.cluster.local, 127.0.0.1 and 10.0.0.1. openssl req -addext \"subjectAltName=...\" then openssl x509 -req -copy_extensions copyall.",
		},
		Checks: []checks.Checker{
			checks.CertFiles{},
			checks.ServerCertSignedByCA{},
			checks.ServerCertSANs{},
			checks.CertValidity{File: checks.ServerCertFile},
			checks.KeyMatchesCert{Cert: checks.ServerCertFile, Key: checks.ServerKeyFile},
			checks.ServerCertUsage{},
			checks.ServiceAccountKeyPair{},
			checks.KubeconfigMatches{},
			checks.KubeconfigClientCert{},
			checks.KeyFilePermissions{},
		},
		Passed: "The cluster has an identity: a CA, a server certificate that names every address clients use, and a kubeconfig that trusts it.",
	},
	{
		ID: "etcd", Title: "Start etcd", Lesson: "etcd",
		Next: "start etcd",
		Hints: []string{
			"The API server keeps every object in etcd; start etcd first, listening on 127.0.0.1:2379.",
			"etcd needs a data directory and its client URLs; plain HTTP on loopback is fine for this course.",
		},
		Checks: []checks.Checker{checks.EtcdHealthy{}},
		Passed: "etcd is up: the cluster has somewhere to keep its state, though nothing talks to it yet.",
	},
	{
		ID: "apiserver", Title: "Start kube-apiserver", Lesson: "apiserver",
		Next: "start kube-apiserver",
		Hints: []string{
			"kube-apiserver serves the API on https://127.0.0.1:6443 and stores objects in etcd. It needs your certificates and the service-account keys.",
			"Flags: --etcd-servers, --client-ca-file, --tls-cert-file, --tls-private-key-file, --service-account-issuer, --service-account-key-file, --service-account-signing-key-file, --service-cluster-ip-range.",
		},
		Checks: []checks.Checker{checks.APIServerReady{}},
		Passed: "The API server answers: kubectl works, objects can be stored. Nothing acts on them yet.",
	},
	{
		ID: "deployment", Title: "Create the nginx Deployment", Lesson: "deployment",
		Next: "kubectl create deployment nginx --image=nginx",
		Hints: []string{
			"Ask the API server for a Deployment called nginx.",
			"kubectl has an imperative command that creates a Deployment from an image name.",
		},
		Checks:     []checks.Checker{checks.DeploymentExists{}},
		Passed:     "The Deployment is stored in etcd, and that is all: no ReplicaSet, no pod. Storing is all the API server does.",
		WatchKinds: []Kind{Deployments, ReplicaSets},
	},
	{
		ID: "controller-manager", Title: "Start kube-controller-manager", Lesson: "controller-manager",
		Next: "start kube-controller-manager",
		Hints: []string{
			"The controllers that turn a Deployment into a ReplicaSet and pods live in kube-controller-manager. It is a client of the API server, like kubectl.",
			"It needs the kubeconfig, the service-account private key (to sign tokens) and the CA.",
		},
		Checks:     []checks.Checker{checks.ReplicaSetCreated{}, checks.PodsCreated{}, checks.ComponentAlive{Component: "kube-controller-manager"}},
		Passed:     "The deployment controller made a ReplicaSet and the ReplicaSet controller made a pod. The pod is Pending: nobody has chosen a node.",
		WatchKinds: []Kind{Deployments, ReplicaSets, Pods},
	},
	{
		ID: "scheduler", Title: "Start kube-scheduler", Lesson: "scheduler",
		Next: "start kube-scheduler",
		Hints: []string{
			"Pending pods without a node wait for a scheduler. kube-scheduler is one more API client.",
			"It only needs a kubeconfig.",
		},
		Checks:     []checks.Checker{checks.PodsSchedulingAttempted{}, checks.ComponentAlive{Component: "kube-scheduler"}},
		Passed:     "The scheduler looked at the pod and found no node to put it on: FailedScheduling. The cluster has a brain but no body.",
		WatchKinds: []Kind{Pods, Events},
	},
	{
		ID: "containerd", Title: "Start containerd", Lesson: "containerd",
		Next: "start containerd",
		Hints: []string{
			"Nodes run containers through a container runtime; the kubelet talks to containerd's CRI plugin over a Unix socket. Run it as root.",
			"Write containerd's default configuration (adjusting it for this host, see the lesson), then start the daemon.",
		},
		Checks: []checks.Checker{checks.ContainerdRunning{}, checks.CRIPluginLoaded{}},
		Passed: "containerd answers and its CRI plugin is loaded. The cluster has not changed: containerd knows nothing of Kubernetes.",
	},
	{
		ID: "kubelet", Title: "Start the kubelet", Lesson: "kubelet",
		Next: "start the kubelet",
		Hints: []string{
			"The kubelet registers this machine as a Node and runs the pods bound to it, through containerd. Run it as root.",
			"It needs the kubeconfig, a KubeletConfiguration file (kubelet.yaml, see the lesson) and containerd's socket.",
		},
		Checks:     []checks.Checker{checks.NodeRegistered{}, checks.KubeletAlive{}},
		Passed:     "A node registered. It is NotReady: the runtime has no pod network, so the pod cannot start yet.",
		WatchKinds: []Kind{Nodes},
	},
	{
		ID: "cni", Title: "Configure CNI", Lesson: "cni",
		Next: "add a CNI configuration",
		Hints: []string{
			"The node is NotReady because containerd finds no CNI network configuration. Pods need a network.",
			"Write a bridge conflist (bridge, host-local IPAM, portmap, loopback) in /etc/cni/net.d; the plugins must be where containerd looks.",
		},
		Checks: []checks.Checker{
			checks.CNIConfigPresent{},
			checks.CNIPluginsPresent{},
			checks.NodeReady{},
			checks.PodRunning{},
		},
		Passed:     "The node is Ready and nginx runs with its own IP. You built a Kubernetes cluster from its parts.",
		WatchKinds: []Kind{Nodes, Pods, Events},
	},
}

// contentErr is what went wrong deriving the commands from the lessons
// (reported by ContentError; the lessons' validation fails on it).
var contentErr error

func init() {
	var errs []error
	for i := range all {
		s := &all[i]
		if s.Lesson == "" {
			s.Lesson = s.ID
		}
		blocks, err := LessonBlocks(s.Lesson)
		if err != nil {
			errs = append(errs, fmt.Errorf("step %q: %w", s.ID, err))
			continue
		}
		s.Commands = script.Commands(blocks)
		s.Hints = append(s.Hints, CommandsHint(s.ID))
	}
	contentErr = errors.Join(errs...)
}

// LessonBlocks parses the fenced code blocks of a lesson of package content.
func LessonBlocks(lesson string) ([]script.Block, error) {
	data, err := fs.ReadFile(content.Lessons, "lessons/"+lesson+".md")
	if err != nil {
		return nil, fmt.Errorf("read lesson %q: %w", lesson, err)
	}
	blocks, err := script.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("lesson %q: %w", lesson, err)
	}
	return blocks, nil
}

// ContentError reports a lesson whose blocks could not be read.
func ContentError() error { return contentErr }

// CommandsHint is a step's last hint: where its exact commands are.
func CommandsHint(id string) string {
	return "run the step's commands, as its lesson shows them for this machine: kubetutor show " + id + " --commands"
}

// CommandsFor returns the step's commands that fit a host with these tags.
func (s Step) CommandsFor(tags script.Set) []script.Block {
	return script.For(s.Commands, tags)
}

// All returns the steps in course order.
func All() []Step {
	out := make([]Step, len(all))
	copy(out, all)
	return out
}

// IDs returns the step IDs in order.
func IDs() []string {
	ids := make([]string, len(all))
	for i, s := range all {
		ids[i] = s.ID
	}
	return ids
}

// Lookup finds a step by ID.
func Lookup(id string) (Step, int, error) {
	for i, s := range all {
		if s.ID == id {
			return s, i, nil
		}
	}
	return Step{}, -1, fmt.Errorf("unknown step %q (steps: %s)", id, strings.Join(IDs(), ", "))
}

// Doctor is the host preflight: not a step of the course, but run through
// the same runner and reporter. It checks what the components need of the
// machine, each check with a hint.
func Doctor() Step {
	cs := []checks.Checker{checks.RunningAsRoot{}}
	cs = append(cs, binaryChecks()...)
	for _, p := range []checks.PortFree{
		{Port: 2379, Component: "etcd"}, {Port: 2380, Component: "etcd"}, {Port: 6443, Component: "kube-apiserver"},
		{Port: 10250, Component: "kubelet"}, {Port: 10257, Component: "kube-controller-manager"}, {Port: 10259, Component: "kube-scheduler"},
	} {
		cs = append(cs, p)
	}
	cs = append(cs,
		checks.SwapOff{},
		checks.CgroupVersion{},
		checks.OOMScoreAdj{},
		checks.Overlayfs{},
		checks.Sysctl{Key: "net.ipv4.ip_forward", Want: "1", Why: "pods can reach each other and the host, but not the outside world.", Fix: "sysctl -w net.ipv4.ip_forward=1"},
		checks.Sysctl{Key: "net.bridge.bridge-nf-call-iptables", Want: "1", Why: "bridged pod traffic bypasses iptables; Services (kube-proxy) need it, this course's single pod does not.", Fix: "modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1"},
		checks.IptablesInstalled{},
		checks.CNIPluginsInstalled{},
		checks.ContainerdSocket{},
	)
	return Step{ID: "doctor", Title: "Host preflight", Checks: cs}
}
