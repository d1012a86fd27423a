package steps_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/steps"
)

// verbCount counts the fake clientset's actions of one verb.
func verbCount(kube *fake.Clientset, verb string) int {
	n := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == verb {
			n++
		}
	}
	return n
}

// TestWatchReadsInformersNotLists: once the informers have synced, an API
// event wakes the watch and its evaluation reads their caches: no new LIST,
// no new WATCH reaches the API server.
func TestWatchReadsInformersNotLists(t *testing.T) {
	w := newWorld(t)
	for _, st := range stages[:7] { // up to the controller-manager
		st.apply(w)
	}
	w.healthz(w.schedAddr, true)
	s, _, _ := steps.Lookup("scheduler")
	var mu sync.Mutex
	evaluations, lists, watches := 0, -1, -1
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-first
		w.unschedulable("no nodes available to schedule pods")
	}()
	res, err := steps.Watch(ctx, w.env, s, steps.WatchOptions{
		Timeout: 10 * time.Second,
		Resync:  time.Hour, // only an informer event can wake it up
		OnResult: func(r steps.Result) {
			mu.Lock()
			defer mu.Unlock()
			evaluations++
			if evaluations == 1 {
				// The first evaluation started the informers (and the
				// ReplicaSet and pod ones for the Deployment's selector).
				lists, watches = verbCount(w.kube, "list"), verbCount(w.kube, "watch")
				close(first)
			}
		},
	})
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != steps.Pass {
		t.Fatalf("status %s%s", res.Status, describe(res))
	}
	if lists <= 0 || watches <= 0 {
		t.Fatalf("before the event: %d lists, %d watches; want the informers' initial lists and watches", lists, watches)
	}
	if n := verbCount(w.kube, "list"); n != lists {
		t.Errorf("%d list calls after the informers synced, want 0", n-lists)
	}
	if n := verbCount(w.kube, "watch"); n != watches {
		t.Errorf("%d watch calls after the informers synced, want 0", n-watches)
	}
	t.Logf("%d evaluations, %d lists and %d watches, all before the event", evaluations, lists, watches)
}

// TestWatchEndsItsGoroutines: the informers Watch starts end when it returns.
func TestWatchEndsItsGoroutines(t *testing.T) {
	w := newWorld(t)
	for _, st := range stages[:5] { // up to the apiserver
		st.apply(w)
	}
	s, _, _ := steps.Lookup("deployment")
	settle := func() { runtime.GC(); time.Sleep(50 * time.Millisecond) }
	settle()
	before := runtime.NumGoroutine()
	during := 0
	res, err := steps.Watch(ctx, w.env, s, steps.WatchOptions{
		Timeout: 10 * time.Second,
		Resync:  time.Hour,
		OnResult: func(r steps.Result) {
			if during == 0 {
				during = runtime.NumGoroutine()
				d := &appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "d-uid"},
					Spec: appsv1.DeploymentSpec{
						Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
						Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}}},
					},
				}
				if _, err := w.kube.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
					t.Error(err)
				}
			}
		},
	})
	if err != nil || res.Status != steps.Pass {
		t.Fatalf("watch: %v %s%s", err, res.Status, describe(res))
	}
	if during <= before {
		t.Fatalf("%d goroutines while watching, %d before: the informers did not run", during, before)
	}
	after := runtime.NumGoroutine()
	for i := 0; i < 40 && after > before; i++ {
		settle()
		after = runtime.NumGoroutine()
	}
	if after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before the watch, %d while, %d after it returned:\n%s", before, during, after, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("goroutines: %d before, %d while watching, %d after", before, during, after)
}
