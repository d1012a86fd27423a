package checks

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
)

// The pod informers follow the selector they are asked for: a Deployment
// created again with another selector is read with the new one, and the
// cache agrees with a direct, selector-filtered LIST.
func TestInformerCacheFollowsTheSelector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pod := func(name, app string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": app}}}
	}
	kube := fake.NewClientset(pod("nginx-1", "nginx"), pod("web-1", "web"), pod("other", "other"))
	c := NewInformerCache(kube, "default", "nginx", KindPods)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	direct := directReader{kube}
	for _, app := range []string{"nginx", "web", "nginx"} {
		sel := labels.SelectorFromSet(labels.Set{"app": app})
		want, err := direct.pods(ctx, "default", sel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.pods(ctx, "default", sel)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(want) != 1 || got[0].Name != want[0].Name || got[0].Name != app+"-1" {
			t.Errorf("selector app=%s: cache %v, API %v, want %s-1", app, names(got), names(want), app)
		}
		if c.wlSelector != sel.String() {
			t.Errorf("pod informers filter %q, want %q", c.wlSelector, sel.String())
		}
	}
	// A pod created after the informers synced reaches the cache, and
	// wakes whoever waits on Changed.
	for len(c.Changed()) > 0 {
		<-c.Changed()
	}
	sel := labels.SelectorFromSet(labels.Set{"app": "nginx"})
	if _, err := kube.CoreV1().Pods("default").Create(ctx, pod("nginx-2", "nginx"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Changed():
	case <-ctx.Done():
		t.Fatal("no change signalled for a new pod")
	}
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := c.pods(ctx, "default", sel)
		return len(got) == 2, err
	})
	if err != nil {
		t.Fatalf("the cache never held nginx-2: %v", err)
	}
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}
