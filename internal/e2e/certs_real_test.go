package e2e

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubetutor/kubetutor/internal/pki"
)

// TestRealCertsInit starts a real etcd and kube-apiserver, with the lesson's
// command lines, on what `kubetutor certs init --per-component` generates
// (instead of the lesson's openssl commands), and asserts that the API
// server accepts every generated kubeconfig as the identity it names.
func TestRealCertsInit(t *testing.T) {
	for _, algo := range []string{"rsa", "ecdsa"} {
		t.Run(algo, func(t *testing.T) {
			testRealCertsInit(t, algo)
		})
	}
}

func testRealCertsInit(t *testing.T, algo string) {
	c := newCluster(t)
	const node = "kubetutor-node"
	res, err := pki.Init(pki.Options{WorkDir: c.dir, Kubeconfig: c.env.Kubeconfig, PerComponent: true, NodeName: node, KeyAlgo: algo})
	if err != nil {
		t.Fatalf("certs init: %v", err)
	}
	t.Logf("certs init wrote %d files", len(res.Files))

	// The checks agree that the certs step is done, and nothing further.
	c.expectVerdicts("certs", "etcd-healthy", "connection refused")

	etcd := c.start("etcd", commandOf(t, "etcd"))
	c.waitPass("etcd", etcd, 30*time.Second)
	apiserver := c.start("kube-apiserver", commandOf(t, "apiserver"))
	c.waitPass("apiserver", apiserver, 90*time.Second)

	// Each kubeconfig authenticates as the identity in its certificate.
	cases := []struct {
		conf   string
		user   string
		groups []string
	}{
		{"admin.conf", "admin", []string{"system:masters"}},
		{"scheduler.conf", "system:kube-scheduler", nil},
		{"controller-manager.conf", "system:kube-controller-manager", nil},
		{"kubelet.conf", "system:node:" + node, []string{"system:nodes"}},
	}
	for _, tc := range cases {
		t.Run(tc.conf, func(t *testing.T) {
			cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(c.dir, tc.conf))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Timeout = 10 * time.Second
			status := rawGet(t, cfg, "/api/v1/namespaces/kube-system")
			if status != http.StatusOK && status != http.StatusForbidden {
				t.Errorf("GET /api/v1/namespaces/kube-system with %s: HTTP %d, want 200 or 403 (authenticated)", tc.conf, status)
			}
			kube, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			review, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("who am I, with %s: %v", tc.conf, err)
			}
			got := review.Status.UserInfo
			if got.Username != tc.user {
				t.Errorf("%s authenticates as %q, want %q", tc.conf, got.Username, tc.user)
			}
			for _, g := range append(tc.groups, "system:authenticated") {
				if !slices.Contains(got.Groups, g) {
					t.Errorf("%s: groups %v lack %s", tc.conf, got.Groups, g)
				}
			}
		})
	}

	// kubectl, another client, agrees for the scheduler's kubeconfig.
	kubectl := exec.Command(filepath.Join(c.dir, "bin", "kubectl"), "--kubeconfig", filepath.Join(c.dir, "scheduler.conf"), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if out, err := kubectl.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "system:kube-scheduler" {
		t.Errorf("kubectl auth whoami --kubeconfig scheduler.conf: %v: %s", err, out)
	}

	// The control: the same kind of kubeconfig from another CA is refused.
	t.Run("another CA's client certificate", func(t *testing.T) {
		otherDir := t.TempDir()
		if _, err := pki.Init(pki.Options{WorkDir: otherDir, KeyAlgo: algo}); err != nil {
			t.Fatal(err)
		}
		other, err := clientcmd.LoadFromFile(filepath.Join(otherDir, "admin.conf"))
		if err != nil {
			t.Fatal(err)
		}
		good, err := clientcmd.LoadFromFile(c.env.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		// Trust the real API server, but present the other CA's admin certificate.
		other.Clusters[pki.ClusterName].CertificateAuthorityData = good.Clusters[pki.ClusterName].CertificateAuthorityData
		cfg, err := clientcmd.NewDefaultClientConfig(*other, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Timeout = 10 * time.Second
		if status := rawGet(t, cfg, "/api/v1/namespaces/kube-system"); status != http.StatusUnauthorized {
			t.Errorf("another CA's admin certificate: HTTP %d, want 401", status)
		}
	})
}

// rawGet GETs path and returns the HTTP status.
func rawGet(t *testing.T, cfg *rest.Config, path string) int {
	t.Helper()
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var status int
	err = kube.CoreV1().RESTClient().Get().AbsPath(path).Do(ctx).StatusCode(&status).Error()
	var se apierrors.APIStatus
	if err != nil && status == 0 && !errors.As(err, &se) {
		t.Fatalf("GET %s: %v", path, err)
	}
	return status
}
