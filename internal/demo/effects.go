package demo

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetutor/kubetutor/checks"
	"github.com/kubetutor/kubetutor/course"
	"github.com/kubetutor/kubetutor/steps"
)

// showEffects prints what the cluster holds now, like `kubectl get
// deploy,rs,pods,nodes` and the last scheduling event would.
func (d *Demo) showEffects(ctx context.Context, s steps.Step) {
	// Before the step that starts the API server there is no cluster to show.
	_, idx, _ := steps.Lookup(s.ID)
	if _, api, _ := steps.Lookup(course.MustLookup(course.APIServer).Step); idx < api {
		return
	}
	for _, line := range d.effects(ctx) {
		fmt.Fprintf(d.Out, "   %s\n", d.cs().Cyan(line))
	}
}

// effects lists the workload's objects and the nodes, one line each.
func (d *Demo) effects(ctx context.Context) []string {
	ns := d.Env.Namespace
	kube, err := d.Env.Kube()
	if err != nil {
		return []string{"(cannot reach the API server: " + err.Error() + ")"}
	}
	ctx, cancel := context.WithTimeout(ctx, d.Env.Timeout)
	defer cancel()
	var out []string
	if list, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, o := range list.Items {
			want := int32(1)
			if o.Spec.Replicas != nil {
				want = *o.Spec.Replicas
			}
			var imgs []string
			for _, c := range o.Spec.Template.Spec.Containers {
				imgs = append(imgs, c.Image)
			}
			out = append(out, fmt.Sprintf("deployment.apps/%s   %d/%d ready   image %s", o.Name, o.Status.ReadyReplicas, want, strings.Join(imgs, ", ")))
		}
		if len(list.Items) == 0 {
			out = append(out, "no deployments")
		}
	}
	if list, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, o := range list.Items {
			want := int32(1)
			if o.Spec.Replicas != nil {
				want = *o.Spec.Replicas
			}
			out = append(out, fmt.Sprintf("replicaset.apps/%s   desired %d, current %d", o.Name, want, o.Status.Replicas))
		}
		if len(list.Items) == 0 {
			out = append(out, "no replicasets")
		}
	}
	pods := map[string]bool{}
	if list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range list.Items {
			pods[p.Name] = true
			line := fmt.Sprintf("pod/%s   %s   node %s", p.Name, p.Status.Phase, orNone(p.Spec.NodeName))
			if p.Status.PodIP != "" {
				line += "   ip " + p.Status.PodIP
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
					line += fmt.Sprintf("   PodScheduled=%s: %s", c.Status, c.Message)
				}
			}
			out = append(out, line)
		}
	}
	if list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range list.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					line := fmt.Sprintf("node/%s   Ready=%s", n.Name, c.Status)
					if c.Status != corev1.ConditionTrue {
						line += ": " + c.Message
					}
					out = append(out, line)
				}
			}
		}
	}
	if list, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		var last *corev1.Event
		for i := range list.Items {
			e := &list.Items[i]
			if e.Reason == "FailedScheduling" && pods[e.InvolvedObject.Name] && (last == nil || checks.EventTime(e).After(checks.EventTime(last))) {
				last = e
			}
		}
		if last != nil {
			out = append(out, fmt.Sprintf("event   %s %s: %s", last.Reason, last.InvolvedObject.Name, strings.TrimSpace(last.Message)))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
