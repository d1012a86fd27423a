package fetch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeProgram(t *testing.T, dir, name, output string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+output+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeOS is a Debian-like OS: etcd and etcdctl, containerd, runc, and the CNI plugins.
func fakeOS(t *testing.T, withEtcdctl bool) (binDir, cniDir string) {
	binDir, cniDir = filepath.Join(t.TempDir(), "usr-bin"), filepath.Join(t.TempDir(), "usr-lib-cni")
	fakeProgram(t, binDir, "etcd", "etcd Version: 3.4.23")
	if withEtcdctl {
		fakeProgram(t, binDir, "etcdctl", "etcdctl version: 3.4.23")
	}
	fakeProgram(t, binDir, "containerd", "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3")
	fakeProgram(t, binDir, "runc", "runc version 1.1.5+ds1")
	fakeProgram(t, cniDir, "bridge", "CNI bridge plugin v1.1.1")
	for _, p := range []string{"host-local", "loopback", "portmap"} {
		fakeProgram(t, cniDir, p, "CNI "+p+" plugin v1.1.1")
	}
	return binDir, cniDir
}

func TestFromTheOS(t *testing.T) {
	etcdPath := "/etcd/" + ev + "/" + EtcdArchive(ev, testArch)
	cniPath := "/cni/" + cv + "/" + CNIArchive(cv, testArch)
	tests := []struct {
		name       string
		components []Component
		useOS      bool
		fromSource bool
		etcdctl    bool
		noOS       bool
		// before prepares the bin dir.
		before  func(t *testing.T, o *Options)
		wantErr string
		check   func(t *testing.T, o Options, r *release, res *Result, out string)
	}{
		{
			name: "use-os links etcd and etcdctl and reports the CNI plugins, containerd and runc", useOS: true, etcdctl: true,
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				for _, name := range []string{"etcd", "etcdctl"} {
					target, err := os.Readlink(filepath.Join(o.BinDir, name))
					if err != nil || target != filepath.Join(o.OSBinDirs[0], name) {
						t.Errorf("bin/%s links to %q (%v), want the OS's", name, target, err)
					}
					if it, _ := res.Item(name); it.Status != FromOS || it.Version != "3.4.23" || it.Target != target {
						t.Errorf("%s: %+v", name, it)
					}
				}
				wantItems := map[string]string{"CNI plugins": "v1.1.1", "containerd": "1.6.20", "runc": "1.1.5+ds1"}
				for name, v := range wantItems {
					if it, _ := res.Item(name); it.Status != FromOS || it.Version != v {
						t.Errorf("%s: %+v, want from the OS, version %s", name, it, v)
					}
				}
				if n := r.count(etcdPath) + r.count(cniPath); n != 0 {
					t.Errorf("downloaded etcd or CNI %d times; want none", n)
				}
				for _, want := range []string{
					"etcd 3.4.23 from the OS at " + filepath.Join(o.OSBinDirs[0], "etcd") + " (linked as " + filepath.Join(o.BinDir, "etcd") + ")\n",
					"CNI plugins v1.1.1 from the OS at " + o.OSCNIDirs[0] + "\n",
					"containerd 1.6.20 from the OS at ",
					"kube-apiserver: 53 B ok\n",
				} {
					if !strings.Contains(out, want) {
						t.Errorf("output lacks %q:\n%s", want, out)
					}
				}
			},
		},
		{
			name: "use-os downloads what the OS lacks", useOS: true, noOS: true, components: []Component{Etcd, CNI},
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if it, _ := res.Item("etcd"); it.Status != Downloaded {
					t.Errorf("etcd: %+v", it)
				}
				if it, _ := res.Item("CNI plugins"); it.Status != Downloaded {
					t.Errorf("CNI: %+v", it)
				}
				if !strings.Contains(out, "etcd: not installed by the OS; downloading it\n") {
					t.Errorf("output:\n%s", out)
				}
			},
		},
		{
			name: "an OS without etcdctl", useOS: true, components: []Component{Etcd},
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if it, _ := res.Item("etcdctl"); it.Status != Missing {
					t.Errorf("etcdctl: %+v", it)
				}
				if !strings.Contains(out, "etcdctl: not installed by the OS (Debian: apt install etcd-client)") {
					t.Errorf("output:\n%s", out)
				}
			},
		},
		{
			name: "use-os replaces a downloaded etcd with the link, and a re-run keeps it", useOS: true, etcdctl: true, components: []Component{Etcd},
			before: func(t *testing.T, o *Options) { fakeProgram(t, o.BinDir, "etcd", "etcd Version: 3.6.4") },
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if _, err := os.Readlink(filepath.Join(o.BinDir, "etcd")); err != nil {
					t.Errorf("bin/etcd is not a link: %v", err)
				}
				var buf bytes.Buffer
				o.Reporter = NewReporter(&buf, false, 80)
				if _, err := Run(context.Background(), o); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(buf.String(), "(already linked as "+filepath.Join(o.BinDir, "etcd")+")") {
					t.Errorf("re-run output:\n%s", buf.String())
				}
			},
		},
		{
			name: "the bin dir is never the OS", useOS: true, noOS: true, components: []Component{Etcd},
			before: func(t *testing.T, o *Options) {
				fakeProgram(t, o.BinDir, "etcd", "etcd Version: 3.6.4")
				o.OSBinDirs = []string{o.BinDir}
			},
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if it, _ := res.Item("etcd"); it.Status != Downloaded {
					t.Errorf("etcd: %+v; want downloaded, not linked to itself", it)
				}
			},
		},
		{
			name: "from source without etcd in the OS fails", fromSource: true, noOS: true, components: []Component{Etcd},
			wantErr: "etcd: not installed by the OS (looked in ",
		},
		{
			name: "from source keeps an etcd already in bin", fromSource: true, noOS: true, components: []Component{Etcd},
			before: func(t *testing.T, o *Options) { fakeProgram(t, o.BinDir, "etcd", "etcd Version: 3.6.4") },
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if it, _ := res.Item("etcd"); it.Status != UpToDate || it.Version != "3.6.4" {
					t.Errorf("etcd: %+v", it)
				}
			},
		},
		{
			name: "from source links the OS's etcd", fromSource: true, etcdctl: true, components: []Component{Etcd, CNI},
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if it, _ := res.Item("etcd"); it.Status != FromOS {
					t.Errorf("etcd: %+v", it)
				}
				if it, _ := res.Item("CNI plugins"); it.Status != FromOS {
					t.Errorf("CNI: %+v", it)
				}
			},
		},
		{
			name: "from source reports missing CNI plugins without failing", fromSource: true, noOS: true, components: []Component{CNI},
			check: func(t *testing.T, o Options, r *release, res *Result, out string) {
				if it, _ := res.Item("CNI plugins"); it.Status != Missing {
					t.Errorf("CNI: %+v", it)
				}
				if !strings.Contains(out, "apt install containernetworking-plugins") {
					t.Errorf("output:\n%s", out)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelease(t)
			srv := r.serve(t)
			o := testOptions(t, srv)
			if !tc.noOS {
				o.OSBinDirs, o.OSCNIDirs = nil, nil
				b, c := fakeOS(t, tc.etcdctl)
				o.OSBinDirs, o.OSCNIDirs = []string{b}, []string{c}
			}
			if tc.components != nil {
				o.Components = tc.components
			}
			o.UseOS, o.FromSource = tc.useOS, tc.fromSource
			var out bytes.Buffer
			o.Reporter = NewReporter(&out, false, 80)
			if tc.before != nil {
				tc.before(t, &o)
			}
			res, err := Run(context.Background(), o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, out.String())
			}
			if left := leftovers(t, o.BinDir); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			tc.check(t, o, r, res, out.String())
		})
	}
}

func TestUpstreamVersion(t *testing.T) {
	for in, want := range map[string]string{"1.1.1+ds1-3+b5": "1.1.1", "1:2.0.0~rc1-1": "2.0.0", "3.4.23-4+b4": "3.4.23", "1.6.20": "1.6.20"} {
		if got := upstreamVersion(in); got != want {
			t.Errorf("upstreamVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDebianCNIVersion asks dpkg for the version of Debian's CNI plugins,
// which do not know it themselves.
func TestDebianCNIVersion(t *testing.T) {
	const bridge = "/usr/lib/cni/bridge"
	if _, err := os.Stat(bridge); err != nil {
		t.Skip("no Debian CNI plugins here")
	}
	if _, err := os.Stat("/usr/bin/dpkg-query"); err != nil {
		t.Skip("no dpkg here")
	}
	if v := probeVersion(context.Background(), bridge); v == "" || strings.ContainsAny(v, "+~") {
		t.Errorf("version of %s = %q; want the upstream version from dpkg", bridge, v)
	}
}
