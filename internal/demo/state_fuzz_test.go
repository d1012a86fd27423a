package demo

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// FuzzDemoState parses a fuzzed run/demo.json and pidfile. What ParseState
// accepts must be safe for `demo down` to act on.
func FuzzDemoState(f *testing.F) {
	for _, s := range []string{
		`{"containerdAddress":"/tmp/demo/run/containerd.sock","cniConfFile":"/etc/cni/net.d/10-kubetutor.conflist","cniConfCreated":true,"offline":true,"image":"kubetutor/workload"}`,
		`{"containerdAddress":"relative.sock","image":"nginx"}`,
		`{"cniConfFile":"/etc/passwd","cniConfCreated":true}`,
		`{"cniConfFile":"/etc/cni/net.d/../../passwd.conf"}`,
		`{}`, `null`, `[]`, `{"offline":"yes"}`, ``,
	} {
		f.Add([]byte(s), []byte("1234 5678\n"))
	}
	f.Add([]byte(`{}`), []byte("-1"))
	f.Add([]byte(`{}`), []byte("99999999999999999999999"))
	f.Add([]byte(`{}`), []byte(""))
	f.Fuzz(func(t *testing.T, state, pidfile []byte) {
		st, err := ParseState(state)
		if err == nil {
			if st.ContainerdAddress != "" && !filepath.IsAbs(st.ContainerdAddress) {
				t.Fatalf("accepted a relative containerd address %q", st.ContainerdAddress)
			}
			if st.CNIConfFile != "" && (!filepath.IsAbs(st.CNIConfFile) || filepath.Clean(st.CNIConfFile) != st.CNIConfFile) {
				t.Fatalf("accepted CNI file %q", st.CNIConfFile)
			}
			if _, err := json.Marshal(st); err != nil {
				t.Fatal(err)
			}
		}
		if pid, _, ok := parsePidfile(pidfile); ok && pid <= 0 {
			t.Fatalf("accepted pid %d", pid)
		}
	})
}
