package checks

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestNewestRunning: during `kubectl rollout restart` the old pod still says
// Running while it shuts down; the pod a learner's next command meets (curl,
// logs, exec) is the new one, and a pod on its way out is never it.
func TestNewestRunning(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	pod := func(name string, created time.Time, phase corev1.PodPhase, ip string, deleting bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
			Status: corev1.PodStatus{Phase: phase, PodIP: ip}}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{Time: created.Add(time.Minute)}
		}
		return p
	}
	old := pod("old", t0, corev1.PodRunning, "10.244.0.2", false)
	oldLeaving := pod("old", t0, corev1.PodRunning, "10.244.0.2", true)
	newer := pod("new", t0.Add(time.Minute), corev1.PodRunning, "10.244.0.4", false)
	starting := pod("new", t0.Add(time.Minute), corev1.PodPending, "", false)
	for _, tc := range []struct {
		name string
		pods []corev1.Pod
		want string
	}{
		{"one pod", []corev1.Pod{old}, "old"},
		{"rollout, both Running", []corev1.Pod{old, newer}, "new"},
		{"rollout, listed newest first", []corev1.Pod{newer, old}, "new"},
		{"rollout, old one terminating", []corev1.Pod{oldLeaving, newer}, "new"},
		{"only a terminating pod", []corev1.Pod{oldLeaving}, ""},
		{"terminating, the new one still starting", []corev1.Pod{oldLeaving, starting}, ""},
		{"no IP yet", []corev1.Pod{pod("x", t0, corev1.PodRunning, "", false)}, ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if p := newestRunning(tc.pods); p != nil {
				got = p.Name
			}
			if got != tc.want {
				t.Errorf("newestRunning = %q, want %q", got, tc.want)
			}
		})
	}
	if s := podState(&oldLeaving); s != "Terminating on <none>" {
		t.Errorf("podState of a pod being deleted = %q, want Terminating", s)
	}
}
