// Package steps holds the order and the promises of the course: the steps by
// stable ID, each with the checks that prove its effect and the API kinds
// whose changes can change its verdict. A step's words (title, hints, what
// just happened) and its commands live in its lesson (package content); the
// components it starts are described once, in package course.
package steps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/content"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/internal/script"
)

// Step is one stage of building the cluster.
type Step struct {
	// ID is stable: people type and script it.
	ID string
	// Lesson names the lesson in content/ (the step ID).
	Lesson string
	// Title, Next, Hints and Passed come from the lesson's front matter
	// (content.Meta); the last hint, the step's commands, is derived.
	Title  string
	Next   string
	Hints  []string
	Passed string
	// Commands are what the learner types: the runnable blocks of the
	// lesson's "## Commands" section, every host variant, in lesson order.
	// Derived from the lesson; never written here.
	Commands []script.Block
	// Checks prove the step's effect on the live system.
	Checks []checks.Checker
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
	// Services and EndpointSlices are watched for changes only; their
	// checks read the API server.
	Services       Kind = "services"
	EndpointSlices Kind = "endpointslices"
)

// toolChecks are the tools step's checks: every program the course's table
// says the tools step finds, then their version skew.
func toolChecks() []checks.Checker {
	var out []checks.Checker
	var bins []checks.Binary
	for _, c := range course.Tools() {
		b := checks.Binary{Program: c.Name, VersionArgs: c.VersionArgs, Install: c.Install}
		bins = append(bins, b)
		out = append(out, b)
	}
	return append(out, checks.VersionSkew{Binaries: bins})
}

// ownBinary is the binary check of a component its own step looks for
// (course.Component.OwnStep), before the step's other checks.
func ownBinary(name string, rest ...checks.Checker) []checks.Checker {
	c := course.MustLookup(name)
	b := checks.Binary{Program: c.Name, VersionArgs: c.VersionArgs, Install: c.Install}
	// Its skew is judged against the kube-apiserver the tools step found.
	api := course.MustLookup(course.APIServer)
	ref := checks.Binary{Program: api.Name, VersionArgs: api.VersionArgs, Install: api.Install}
	return append([]checks.Checker{b, checks.VersionSkew{Binaries: []checks.Binary{ref, b}}}, rest...)
}

// table is the course: the steps in order, with their checks. Everything
// else about a step is derived from its lesson.
var table = []Step{
	{ID: "tools", Checks: toolChecks()},
	{ID: "certs", Checks: []checks.Checker{
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
	}},
	{ID: "etcd", Checks: []checks.Checker{checks.EtcdHealthy{}}},
	{ID: "apiserver", Checks: []checks.Checker{checks.APIServerReady{}}},
	{
		ID:         "deployment",
		Checks:     []checks.Checker{checks.DeploymentExists{}},
		WatchKinds: []Kind{Deployments, ReplicaSets},
	},
	{
		ID:         "controller-manager",
		Checks:     []checks.Checker{checks.ReplicaSetCreated{}, checks.PodsCreated{}, checks.ComponentAlive{Component: course.ControllerManager}},
		WatchKinds: []Kind{Deployments, ReplicaSets, Pods},
	},
	{
		ID:         "scheduler",
		Checks:     []checks.Checker{checks.PodsSchedulingAttempted{}, checks.ComponentAlive{Component: course.Scheduler}},
		WatchKinds: []Kind{Pods, Events},
	},
	{ID: "containerd", Checks: []checks.Checker{checks.ContainerdRunning{}, checks.CRIPluginLoaded{}}},
	{
		ID:         "kubelet",
		Checks:     []checks.Checker{checks.NodeRegistered{}, checks.KubeletAlive{}},
		WatchKinds: []Kind{Nodes},
	},
	{
		ID: "cni",
		Checks: []checks.Checker{
			checks.CNIConfigPresent{},
			checks.CNIPluginsPresent{},
			checks.NodeReady{},
			checks.PodRunning{},
		},
		WatchKinds: []Kind{Nodes, Pods, Events},
	},
	{
		ID: "logs",
		Checks: []checks.Checker{
			checks.KubeletRefusesAnonymous{},
			checks.KubeletAcceptsAPIServer{},
			checks.PodLogsReadable{},
			checks.PodExecWorks{},
		},
	},
	{
		ID:         "service",
		Checks:     []checks.Checker{checks.ServiceHasClusterIP{}, checks.ServiceEndpointsReady{}},
		WatchKinds: []Kind{Services, EndpointSlices, Pods},
	},
	{
		ID:         "kube-proxy",
		Checks:     ownBinary(course.KubeProxy, checks.ComponentAlive{Component: course.KubeProxy}, checks.ServiceAnswers{}, checks.KubernetesServiceTLS{}),
		WatchKinds: []Kind{Services, EndpointSlices},
	},
	{
		ID:         "coredns",
		Checks:     []checks.Checker{checks.CoreDNSReady{}, checks.KubeDNSEndpoints{}, checks.ClusterDNSAnswers{}},
		WatchKinds: []Kind{Services, EndpointSlices},
	},
	{
		ID:         "cluster-dns",
		Checks:     []checks.Checker{checks.KubeletClusterDNS{}, checks.PodUsesClusterDNS{}, checks.PodResolvesNames{}},
		WatchKinds: []Kind{Pods, Events},
	},
}

var (
	loadOnce sync.Once
	loaded   []Step
	// contentErr is what went wrong reading the lessons (reported by
	// ContentError; the lessons' validation fails on it).
	contentErr error
)

// load fills each step's words and commands from its lesson, once, on first
// use.
func load() []Step {
	loadOnce.Do(func() {
		var errs []error
		loaded = make([]Step, len(table))
		for i, s := range table {
			if s.Lesson == "" {
				s.Lesson = s.ID
			}
			f, err := content.ReadFile(content.Lessons, "lessons", s.Lesson)
			if err == nil {
				var blocks []script.Block
				if blocks, err = script.ParseAt(f.Markdown, f.Line); err == nil {
					s.Commands = script.Commands(blocks)
				}
			}
			meta := f.Meta
			if err != nil {
				errs = append(errs, fmt.Errorf("step %q: %w", s.ID, err))
			}
			s.Title, s.Next, s.Passed = meta.Title, meta.Next, meta.Passed
			s.Hints = append(append([]string{}, meta.Hints...), CommandsHint(s.ID))
			loaded[i] = s
		}
		contentErr = errors.Join(errs...)
	})
	return loaded
}

// LessonBlocks parses the fenced code blocks of a lesson of package content.
func LessonBlocks(lesson string) ([]script.Block, error) {
	f, err := content.ReadFile(content.Lessons, "lessons", lesson)
	if err != nil {
		return nil, fmt.Errorf("read lesson %q: %w", lesson, err)
	}
	blocks, err := script.ParseAt(f.Markdown, f.Line)
	if err != nil {
		return nil, fmt.Errorf("lesson %q: %w", lesson, err)
	}
	return blocks, nil
}

// ContentError reports a lesson whose words or blocks could not be read.
func ContentError() error {
	load()
	return contentErr
}

// CommandsHint is a step's last hint: where its exact commands are.
func CommandsHint(id string) string {
	return "run the step's commands, as its lesson shows them for this machine: kubetutor show " + id + " --commands"
}

// CommandsFor returns the step's commands that fit a host with these tags.
func (s Step) CommandsFor(tags script.Set) []script.Block {
	return script.For(s.Commands, tags)
}

// Component is the component the step's commands start, if any.
func (s Step) Component() (course.Component, bool) { return course.ForStep(s.ID) }

// All returns the steps in course order.
func All() []Step {
	steps := load()
	out := make([]Step, len(steps))
	copy(out, steps)
	return out
}

// IDs returns the step IDs in order.
func IDs() []string {
	ids := make([]string, len(table))
	for i, s := range table {
		ids[i] = s.ID
	}
	return ids
}

// Lookup finds a step by ID.
func Lookup(id string) (Step, int, error) {
	for i, s := range load() {
		if s.ID == id {
			return s, i, nil
		}
	}
	return Step{}, -1, fmt.Errorf("unknown step %q (steps: %s)", id, strings.Join(IDs(), ", "))
}

// NeedsRoot reports whether performing the steps up to and including id
// starts a component that must run as root.
func NeedsRoot(upTo string) bool {
	for _, s := range table {
		if c, ok := course.ForStep(s.ID); ok && c.Root {
			return true
		}
		if s.ID == upTo {
			return false
		}
	}
	return false
}

// Doctor is the host preflight: not a step of the course, but run through
// the same runner and reporter. It checks what the components need of the
// machine, each check with a hint.
func Doctor() Step {
	cs := []checks.Checker{checks.RunningAsRoot{}}
	tools := toolChecks()
	cs = append(cs, tools[:len(tools)-1]...) // the programs, not their skew
	var ports []checks.PortFree
	for _, c := range course.Components() {
		for _, p := range c.Ports {
			ports = append(ports, checks.PortFree{Port: p.Number, Component: c.Name})
		}
	}
	slices.SortFunc(ports, func(a, b checks.PortFree) int { return a.Port - b.Port })
	for _, p := range ports {
		cs = append(cs, p)
	}
	cs = append(cs,
		checks.SwapOff{},
		checks.CgroupVersion{},
		checks.OOMScoreAdj{},
		checks.Overlayfs{},
		checks.Sysctl{Key: "net.ipv4.ip_forward", Want: "1", Why: "pods can reach each other and the host, but not the outside world.", Fix: "sysctl -w net.ipv4.ip_forward=1"},
		checks.Sysctl{Key: "net.bridge.bridge-nf-call-iptables", Want: "1", Why: "bridged pod traffic bypasses iptables: a pod's request through a Service to a pod on the same bridge (nginx asking CoreDNS at 10.0.0.10, act two's cluster-dns step) gets its answer from the pod's own address, and drops it. The talk's steps do not need it.", Fix: "modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1"},
		checks.IptablesInstalled{},
		checks.CNIPluginsInstalled{},
		checks.HostnameResolves{},
		checks.HostResolvConf{},
		checks.ContainerdSocket{},
	)
	return Step{ID: "doctor", Title: "Host preflight", Checks: cs}
}

// CheckNamed finds a check of the course by its stable name and the step
// that holds it (the first, when two steps share it).
func CheckNamed(name string) (checks.Checker, Step, bool) {
	for _, s := range table {
		for _, c := range s.Checks {
			if c.Name() == name {
				return c, s, true
			}
		}
	}
	return nil, Step{}, false
}
