// Package course is what the course knows about the cluster's components, in
// one table: the program, how it reports its version, the ports it takes,
// where it answers /healthz, the Lease that proves it runs, whether it needs
// root, its client-certificate identity, and the step whose commands start
// it. Checks, the host preflight, the demo, fetch and the certificates all
// read it; nothing outside it decides by a component's name.
//
// The steps' order, prose and checks live in package steps and in the
// lessons (package content); this package imports nothing of kubetutor so
// that every layer may use it.
package course

import (
	"fmt"
	"strings"
)

// KubernetesVersion is the Kubernetes release the lessons are written for:
// what `kubetutor fetch` downloads and `make kube-binaries` builds.
const KubernetesVersion = "v1.37.2"

// The programs of the cluster, by name, for the few places that speak of one
// in particular (a check of the API server, the kubelet's node Lease).
const (
	Etcd              = "etcd"
	APIServer         = "kube-apiserver"
	ControllerManager = "kube-controller-manager"
	Scheduler         = "kube-scheduler"
	Containerd        = "containerd"
	Kubelet           = "kubelet"
	KubeProxy         = "kube-proxy"
	Kubectl           = "kubectl"
)

// Source is where a program comes from, for `kubetutor fetch`.
type Source string

// The sources the tools step's programs come from.
const (
	// FromKubernetes: a single file on dl.k8s.io, or built from the
	// k8s.io/kubernetes module.
	FromKubernetes Source = "kubernetes"
	// FromEtcd: the etcd release tarball, or Debian's etcd-server.
	FromEtcd Source = "etcd"
	// FromHost: the node's packages (containerd, runc).
	FromHost Source = "host"
)

// Port is a TCP port a component listens on.
type Port struct {
	Number int
	// What it serves, for the preflight's messages.
	What string
}

// Lease is the coordination.k8s.io Lease a component renews while it runs.
type Lease struct {
	Namespace string
	// Name is the Lease's name; empty for a node Lease, whose name is the
	// node's, found at run time.
	Name string
	// Kind says what the Lease is, for messages.
	Kind string
}

// Node reports whether this is a node Lease (named after its node).
func (l *Lease) Node() bool { return l != nil && l.Name == "" }

// Skew is Kubernetes' version skew policy for a program relative to
// kube-apiserver: its minor version may be at most Newer above and Older
// below the API server's (https://kubernetes.io/releases/version-skew-policy/).
type Skew struct {
	Newer, Older int
	Policy       string
}

// Identity is a component's own client certificate, as `certs init
// --per-component` issues it.
type Identity struct {
	// Base names the files: <base>.crt, <base>.key.
	Base string
	// CN is the user name; %s stands for the node name.
	CN string
	// Orgs are the groups.
	Orgs []string
	// Kubeconfig is the file name of its kubeconfig; empty when the
	// certificate is for something else than talking to the API server.
	Kubeconfig string
	// For says what the certificate is for when it has no kubeconfig.
	For string
}

// User is the identity's user name on a node.
func (i Identity) User(node string) string {
	if strings.Contains(i.CN, "%s") {
		return fmt.Sprintf(i.CN, node)
	}
	return i.CN
}

// Component is one program of the cluster.
type Component struct {
	// Name is the program, as the learner starts it.
	Name string
	// Step is the course step whose commands start it; empty for a tool
	// that is only run (kubectl).
	Step string
	// VersionArgs make it print its version.
	VersionArgs []string
	// Install says how to get it, for the tools step's hint; empty when the
	// tools step does not look for it (the node's runtime).
	Install string
	// Source is where fetch gets it.
	Source Source
	// Extra programs come with it (etcdctl with etcd).
	Extra []string
	// Ports it listens on, for the preflight.
	Ports []Port
	// Healthz is its /healthz URL on this machine, by default.
	Healthz string
	// HealthzJSON: its /healthz answers a JSON status (kube-proxy's
	// {"lastUpdated":…,"currentTime":…,"nodeEligible":…,"healthy":…}), not
	// the text "ok".
	HealthzJSON bool
	// Lease proves it runs, when it renews one.
	Lease *Lease
	// Root: it must run as root (it runs containers).
	Root bool
	// Runtime: it is the container runtime; before it stops, its containers
	// are removed, and after it, its shims.
	Runtime bool
	// Skew is its version skew policy against kube-apiserver.
	Skew *Skew
	// Identity is its client certificate, when it has one of its own.
	Identity *Identity
	// OwnStep: the step that starts it looks for its binary, not the tools
	// step (a program of act two: a learner who finished the talk's steps
	// goes on without fetching again, and the tools step stays passed).
	OwnStep bool
	// CleanupArgs make the program remove what it left in the node's
	// packet filter and exit (kube-proxy --cleanup); run after it stopped.
	CleanupArgs []string
}

// Daemon reports whether a step's commands start it as a long-running
// process.
func (c Component) Daemon() bool { return c.Step != "" }

const downloadIt = "download it into bin/ (kubetutor show tools)"

// components are in the order the tools step lists them; they start in the
// order of the steps that start them (package steps).
var components = []Component{
	{
		Name: APIServer, Step: "apiserver", VersionArgs: []string{"--version"}, Source: FromKubernetes, Install: downloadIt,
		Ports: []Port{{6443, "the Kubernetes API"}},
		Identity: &Identity{Base: "apiserver-kubelet-client", CN: "kube-apiserver-kubelet-client", Orgs: []string{"system:masters"},
			For: "kubelets (--kubelet-client-certificate)"},
	},
	{
		Name: ControllerManager, Step: "controller-manager", VersionArgs: []string{"--version"}, Source: FromKubernetes, Install: downloadIt,
		Ports:    []Port{{10257, "its /healthz"}},
		Healthz:  "https://127.0.0.1:10257/healthz",
		Lease:    &Lease{Namespace: "kube-system", Name: ControllerManager, Kind: "leader-election Lease kube-system/" + ControllerManager},
		Skew:     &Skew{Newer: 0, Older: 1, Policy: "kube-controller-manager must not be newer than kube-apiserver, and at most one minor version older"},
		Identity: &Identity{Base: "controller-manager", CN: "system:kube-controller-manager", Kubeconfig: "controller-manager.conf"},
	},
	{
		Name: Scheduler, Step: "scheduler", VersionArgs: []string{"--version"}, Source: FromKubernetes, Install: downloadIt,
		Ports:    []Port{{10259, "its /healthz"}},
		Healthz:  "https://127.0.0.1:10259/healthz",
		Lease:    &Lease{Namespace: "kube-system", Name: Scheduler, Kind: "leader-election Lease kube-system/" + Scheduler},
		Skew:     &Skew{Newer: 0, Older: 1, Policy: "kube-scheduler must not be newer than kube-apiserver, and at most one minor version older"},
		Identity: &Identity{Base: "scheduler", CN: "system:kube-scheduler", Kubeconfig: "scheduler.conf"},
	},
	{
		Name: Kubelet, Step: "kubelet", VersionArgs: []string{"--version"}, Source: FromKubernetes, Install: downloadIt, Root: true,
		Ports:    []Port{{10250, "the kubelet API"}},
		Healthz:  "http://127.0.0.1:10248/healthz",
		Lease:    &Lease{Namespace: "kube-node-lease", Kind: "node Lease"},
		Skew:     &Skew{Newer: 0, Older: 3, Policy: "the kubelet must not be newer than kube-apiserver, and at most three minor versions older"},
		Identity: &Identity{Base: "kubelet", CN: "system:node:%s", Orgs: []string{"system:nodes"}, Kubeconfig: "kubelet.conf"},
	},
	{
		Name: KubeProxy, Step: "kube-proxy", VersionArgs: []string{"--version"}, Source: FromKubernetes, Install: downloadIt, Root: true,
		Ports:       []Port{{10249, "its metrics"}, {10256, "its /healthz"}},
		Healthz:     "http://127.0.0.1:10256/healthz",
		HealthzJSON: true,
		Skew:        &Skew{Newer: 0, Older: 3, Policy: "kube-proxy must not be newer than kube-apiserver, and at most three minor versions older"},
		CleanupArgs: []string{"--cleanup"},
		OwnStep:     true,
	},
	{
		Name: Etcd, Step: "etcd", VersionArgs: []string{"--version"}, Source: FromEtcd, Extra: []string{"etcdctl"},
		Install: "extract etcd from its release tarball into bin/, or apt install etcd-server (kubetutor show tools)",
		Ports:   []Port{{2379, "etcd clients"}, {2380, "etcd peers"}},
	},
	{
		Name: Kubectl, VersionArgs: []string{"version", "--client"}, Source: FromKubernetes, Install: downloadIt,
		Skew: &Skew{Newer: 1, Older: 1, Policy: "kubectl is supported within one minor version (older or newer) of kube-apiserver"},
	},
	{
		Name: Containerd, Step: "containerd", VersionArgs: []string{"--version"}, Source: FromHost, Root: true, Runtime: true,
	},
}

// Components returns every component, in the tools step's order.
func Components() []Component {
	out := make([]Component, len(components))
	copy(out, components)
	return out
}

// Lookup finds a component by program name.
func Lookup(name string) (Component, error) { return LookupIn(components, name) }

// LookupIn finds a component of cs by program name; the error lists cs's.
func LookupIn(cs []Component, name string) (Component, error) {
	var names []string
	for _, c := range cs {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return Component{}, fmt.Errorf("unknown component %q (components: %s)", name, strings.Join(names, ", "))
}

// MustLookup finds a component the program itself names (a constant of
// this package); it panics on a name the table lacks, which a test catches.
func MustLookup(name string) Component {
	c, err := Lookup(name)
	if err != nil {
		panic(err)
	}
	return c
}

// ForStep returns the component a step's commands start, if any.
func ForStep(step string) (Component, bool) {
	for _, c := range components {
		if c.Step == step {
			return c, true
		}
	}
	return Component{}, false
}

// Tools are the programs the tools step looks for, in the order it lists
// them: every component with an install hint, but those its own step looks
// for (OwnStep).
func Tools() []Component {
	var out []Component
	for _, c := range Binaries() {
		if !c.OwnStep {
			out = append(out, c)
		}
	}
	return out
}

// Binaries are every program the learner puts in bin/ (the demo links them,
// fetch gets them): the components with an install hint.
func Binaries() []Component {
	var out []Component
	for _, c := range components {
		if c.Install != "" {
			out = append(out, c)
		}
	}
	return out
}

// Programs returns the names of the components fetched from src, in table
// order, with their extra programs.
func Programs(src Source) []string {
	var out []string
	for _, c := range components {
		if c.Source == src {
			out = append(out, c.Name)
			out = append(out, c.Extra...)
		}
	}
	return out
}

// VersionArgs are the arguments that make a program of the table print its
// version; --version for any other.
func VersionArgs(program string) []string {
	for _, c := range components {
		if c.Name == program {
			return c.VersionArgs
		}
	}
	return []string{"--version"}
}
