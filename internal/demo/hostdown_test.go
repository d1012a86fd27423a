package demo

import (
	"bytes"
	"strings"
	"testing"
)

func TestSystemdService(t *testing.T) {
	for _, tc := range []struct{ cgroup, want string }{
		{"0::/system.slice/containerd.service\n", "containerd.service"},
		{"0::/system.slice/docker.service/sub\n", "docker.service"},
		// A learner's terminal: a session scope, not a service.
		{"0::/user.slice/user-0.slice/session-3.scope\n", ""},
		// systemd-run --scope is a scope too; systemd-run --unit a service.
		{"0::/system.slice/run-r1234.scope\n", ""},
		{"0::/system.slice/etcd-course.service\n", "etcd-course.service"},
		// cgroup v1 hybrid: the name=systemd line says it.
		{"12:pids:/\n1:name=systemd:/system.slice/kubelet.service\n0::/\n", "kubelet.service"},
		// No systemd (this project's VMs, a container).
		{"12:pids:/\n1:name=systemd:/\n0::/\n", ""},
		{"", ""},
		{"garbage without colons", ""},
	} {
		if got := systemdService(tc.cgroup); got != tc.want {
			t.Errorf("systemdService(%q) = %q, want %q", tc.cgroup, got, tc.want)
		}
	}
}

func TestParseBridgeConf(t *testing.T) {
	for _, tc := range []struct {
		conf string
		want bridgeConf
	}{
		{`{"name":"bridge","plugins":[{"type":"bridge","bridge":"cni0"},{"type":"portmap"}]}`, bridgeConf{"bridge", "cni0"}},
		{`{"name":"mynet","plugins":[{"type":"bridge","bridge":"br-pods"}]}`, bridgeConf{"mynet", "br-pods"}},
		// Names unfit for a path or an interface: the lessons' values.
		{`{"name":"../../etc","plugins":[{"type":"bridge","bridge":"a/b"}]}`, bridgeConf{"bridge", "cni0"}},
		{`{"name":"x","plugins":[{"type":"bridge","bridge":"averyveryverylongname"}]}`, bridgeConf{"x", "cni0"}},
		{`not json`, bridgeConf{"bridge", "cni0"}},
		{``, bridgeConf{"bridge", "cni0"}},
	} {
		if got := parseBridgeConf([]byte(tc.conf)); got != tc.want {
			t.Errorf("parseBridgeConf(%s) = %+v, want %+v", tc.conf, got, tc.want)
		}
	}
}

func FuzzParseBridgeConf(f *testing.F) {
	f.Add([]byte(`{"name":"bridge","plugins":[{"type":"bridge","bridge":"cni0"}]}`))
	f.Add([]byte(`{"name":"../x","plugins":[{"type":"bridge","bridge":"-x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := parseBridgeConf(data)
		for _, s := range []string{c.Name, c.Bridge} {
			if !safeName(s) || strings.ContainsAny(s, "/\x00") {
				t.Fatalf("parseBridgeConf gave an unsafe name %q", s)
			}
		}
	})
}

func FuzzSystemdService(f *testing.F) {
	f.Add("0::/system.slice/containerd.service\n")
	f.Add("1:name=systemd:/system.slice/a.service/b\n0::/\n")
	f.Fuzz(func(t *testing.T, cgroup string) {
		u := systemdService(cgroup)
		if u != "" && (!strings.HasSuffix(u, ".service") || strings.Contains(u, "/")) {
			t.Fatalf("systemdService(%q) = %q, not a service name", cgroup, u)
		}
	})
}

func TestCachedSandboxName(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		want string
	}{
		{"bridge-" + id + "-eth0", id},
		{"bridge-" + id[:63] + "-eth0", ""},
		{"bridge-eth0", ""},
	} {
		m := sandboxInResult.FindStringSubmatch(tc.name)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != tc.want {
			t.Errorf("%s: sandbox %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestHostDescribe: what the listing says of each kind of finding, and of
// processes it leaves to their owner.
func TestHostDescribe(t *testing.T) {
	h := &HostCluster{
		Opts:  HostOptions{WorkDir: "/k8s"},
		Procs: []HostProcess{{Name: "kubelet", PID: 42, Dir: "/k8s", Args: []string{"kubelet", "--config=kubelet.yaml"}}},
		Foreign: []HostProcess{{Name: "containerd", PID: 7, Owner: "systemd unit containerd.service", Instead: "systemctl stop containerd"},
			{Name: "etcd", PID: 9, Owner: "the demo in /d", Instead: "kubetutor demo down --workdir /d"}},
		ForeignNode: true,
		Netns:       []string{"/run/netns/cni-1"},
		Remove:      []string{"/k8s/etcd-data"},
		Keep:        []string{"/k8s/certs"},
	}
	var b bytes.Buffer
	h.Describe(&b)
	for _, want := range []string{
		"kubelet                  pid 42      in /k8s: kubelet --config=kubelet.yaml",
		"1 pod network namespace (/run/netns/cni-*)",
		"the kubelet's iptables chains",
		"  /k8s/etcd-data\n",
		"Keep:\n  /k8s/certs\n",
		"containerd pid 7: systemd unit containerd.service (systemctl stop containerd)",
		"etcd pid 9: the demo in /d (kubetutor demo down --workdir /d)",
		"The node side (containers, mounts, pod network, /var/lib/kubelet) is left alone too",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Describe: no %q in\n%s", want, b.String())
		}
	}
	if h.Empty() {
		t.Error("Empty() with a process to stop")
	}
	if !(&HostCluster{}).Empty() {
		t.Error("an empty finding is not Empty()")
	}
}
