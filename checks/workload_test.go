package checks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubetutor/kubetutor/checks"
)

func TestSchedulerVerdicts(t *testing.T) {
	rs := appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "nginx-a", UID: "rs-a"}}
	cases := []struct {
		name   string
		cond   *corev1.PodCondition
		status checks.Status
		want   string
	}{
		{"untouched", nil, checks.Fail, "no scheduler has looked at it"},
		{"gated by the API server", &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}, checks.Fail, "scheduling gates"},
		{"unschedulable", &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "no nodes available to schedule pods"}, checks.Pass, "That is expected now"},
		{"the taint verdict once a node registered", &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 node(s) had untolerated taint(s). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."}, checks.Pass, `FailedScheduling "0/1 nodes are available: 1 node(s) had untolerated taint(s).`},
		{"another writer's False", &corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "SomethingElse"}, checks.Fail, "no scheduler has looked at it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := fake.NewClientset()
			ctx := context.Background()
			yes := true
			if _, err := kube.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "d"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			r := rs
			r.Namespace = "default"
			r.OwnerReferences = []metav1.OwnerReference{{Kind: "Deployment", Name: "nginx", UID: "d", Controller: &yes}}
			if _, err := kube.AppsV1().ReplicaSets("default").Create(ctx, &r, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nginx-a-1", Namespace: "default",
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: r.Name, UID: r.UID, Controller: &yes}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending}}
			if tc.cond != nil {
				pod.Status.Conditions = []corev1.PodCondition{*tc.cond}
			}
			if _, err := kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			env := checks.NewEnv(t.TempDir())
			env.SetKube(kube)
			withControlPlane(t, env, true)
			res := checks.Run(ctx, env, checks.PodsSchedulingAttempted{})
			if res.Status != tc.status || !strings.Contains(res.Message, tc.want) {
				t.Errorf("%s %q, want %s containing %q", res.Status, res.Message, tc.status, tc.want)
			}
		})
	}
}

// TestStaleEffects: what kube-controller-manager, kube-scheduler and the
// kubelet did stays in etcd after they stop. While they run it passes; once they are
// stopped the same objects are a warning that calls them stale (the step's
// liveness check is what fails), never a plain pass.
func TestStaleEffects(t *testing.T) {
	yes := true
	objects := func(nodeName string) []runtime.Object {
		return []runtime.Object{
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "d"}},
			&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "nginx-a", Namespace: "default", UID: "rs-a",
				OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "nginx", UID: "d", Controller: &yes}}}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nginx-a-1", Namespace: "default",
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "nginx-a", UID: "rs-a", Controller: &yes}}},
				Spec: corev1.PodSpec{NodeName: nodeName}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName},
				Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}},
		}
	}
	for _, tc := range []struct {
		check checks.Checker
		want  string // in the message either way
		who   string // the component named as not running
	}{
		{checks.ReplicaSetCreated{}, "created ReplicaSet nginx-a", "kube-controller-manager is not running"},
		{checks.PodsCreated{}, "nginx-a-1", "kube-controller-manager is not running"},
		{checks.PodsSchedulingAttempted{}, "assigned pod nginx-a-1 to node vm", "kube-scheduler is not running"},
		{checks.NodeRegistered{}, "Node vm registered and is Ready", "kubelet is not running"},
	} {
		for _, alive := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s alive=%v", tc.check.Name(), alive), func(t *testing.T) {
				env := checks.NewEnv(t.TempDir())
				env.SetKube(fake.NewClientset(objects("vm")...))
				withControlPlane(t, env, alive)
				r := runCheck(t, env, tc.check)
				if !strings.Contains(r.Message, tc.want) {
					t.Errorf("message %q lacks %q", r.Message, tc.want)
				}
				switch {
				case alive && (r.Status != checks.Pass || strings.Contains(r.Message, "stale")):
					t.Errorf("alive: %s %q, want a pass", r.Status, r.Message)
				case !alive && (r.Status != checks.Warn || !strings.Contains(r.Message, "That is stale, not proof: "+tc.who)):
					t.Errorf("stopped: %s %q, want a warning that it is stale and %q", r.Status, r.Message, tc.who)
				}
			})
		}
	}
}

// TestReplicaSetCreatedNamesTheCurrentRevision: after a rollout the old
// ReplicaSet (desired 0) must not be the one reported.
func TestReplicaSetCreatedNamesTheCurrentRevision(t *testing.T) {
	kube := fake.NewClientset()
	ctx := context.Background()
	yes, zero, one := true, int32(0), int32(1)
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "d"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, rs := range []appsv1.ReplicaSet{
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx-zzz-new", Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}}, Spec: appsv1.ReplicaSetSpec{Replicas: &one}},
		{ObjectMeta: metav1.ObjectMeta{Name: "nginx-aaa-old", Annotations: map[string]string{"deployment.kubernetes.io/revision": "1"}}, Spec: appsv1.ReplicaSetSpec{Replicas: &zero}},
	} {
		rs.Namespace = "default"
		rs.OwnerReferences = []metav1.OwnerReference{{Kind: "Deployment", Name: "nginx", UID: "d", Controller: &yes}}
		if _, err := kube.AppsV1().ReplicaSets("default").Create(ctx, &rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	env := checks.NewEnv(t.TempDir())
	env.SetKube(kube)
	withControlPlane(t, env, true)
	res := checks.Run(ctx, env, checks.ReplicaSetCreated{})
	if res.Status != checks.Pass || !strings.Contains(res.Message, "nginx-zzz-new (desired 1") {
		t.Errorf("%s %q", res.Status, res.Message)
	}
}

// TestPodRunningImagePull: the talk's nginx:latest on a machine without a
// registry. The newest warning is the kubelet's MissingClusterDNS, repeated
// on every sync; the hint must still follow the container's ImagePullBackOff.
func TestPodRunningImagePull(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy corev1.PullPolicy
		want   string
	}{
		{"tagged image", corev1.PullIfNotPresent, "cannot be pulled; offline, import a local image"},
		{"latest, pulled always", corev1.PullAlways, "kubectl delete deployment nginx && kubectl create deployment nginx --image=localhost/kubetutor/web:1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) { testPodRunningImagePull(t, tc.policy, tc.want) })
	}
}

func testPodRunningImagePull(t *testing.T, policy corev1.PullPolicy, want string) {
	kube := fake.NewClientset()
	ctx := context.Background()
	yes := true
	if _, err := kube.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default", UID: "d"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "nginx-a", Namespace: "default", UID: "rs-a",
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "nginx", UID: "d", Controller: &yes}}}}
	if _, err := kube.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "nginx-a-1", Namespace: "default",
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &yes}}},
		Spec: corev1.PodSpec{NodeName: "vm", Containers: []corev1.Container{{Name: "nginx", Image: "nginx", ImagePullPolicy: policy}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "nginx",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "nginx"`}}}}}}
	if _, err := kube.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "default"}, Type: corev1.EventTypeWarning, Reason: "MissingClusterDNS",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: "default"}, Message: "kubelet does not have ClusterDNS IP configured"}
	if _, err := kube.CoreV1().Events("default").Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env := checks.NewEnv(t.TempDir())
	env.SetKube(kube)
	res := checks.Run(ctx, env, checks.PodRunning{})
	if res.Status != checks.Fail || !strings.Contains(res.Message, "ImagePullBackOff") || !strings.Contains(res.Message, `Back-off pulling image "nginx"`) {
		t.Errorf("message: %s %q", res.Status, res.Message)
	}
	if !strings.Contains(res.Hint, want) {
		t.Errorf("hint %q, want %q", res.Hint, want)
	}
}
