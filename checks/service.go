package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubetutor/kubetutor/course"
)

// The service step: `kubectl expose` makes a Service, the API server gives
// it a ClusterIP from the service range, and the controller-manager's
// endpointslice controller lists the pods behind it.

// endpointSliceManager is the endpointslice controller's value of the
// endpointslice.kubernetes.io/managed-by label.
const endpointSliceManager = "endpointslice-controller.k8s.io"

// service reads the learner's Service (named after the Deployment), or a
// failing result.
func service(ctx context.Context, env *Env) (*corev1.Service, *Result) {
	kube, fail := kubeClient(env)
	if fail != nil {
		return nil, fail
	}
	svc, err := kube.CoreV1().Services(env.Namespace).Get(ctx, env.Deployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r := failf("There is no Service %q in namespace %q.", env.Deployment, env.Namespace).
			saw("no Service "+env.Deployment, "Service "+env.Deployment).
			hint("kubectl expose deployment %s --port 80 (kubetutor show service --commands)", env.Deployment)
		return nil, &r
	}
	if err != nil {
		r := apiFailure(env, err)
		return nil, &r
	}
	return svc, nil
}

// ServiceHasClusterIP checks that the learner's Service exists and has a
// virtual IP from the service range.
type ServiceHasClusterIP struct{}

// Name implements Checker.
func (ServiceHasClusterIP) Name() string { return "service-cluster-ip" }

// Check implements Checker.
func (ServiceHasClusterIP) Check(ctx context.Context, env *Env) (Result, error) {
	svc, fail := service(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	return clusterIPVerdict(svc), nil
}

func clusterIPVerdict(svc *corev1.Service) Result {
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return failf("Service %s has no ClusterIP (%q): it is headless, so nothing gives it a virtual address.", svc.Name, ip).
			saw("clusterIP "+orNone(ip), "a ClusterIP in "+course.ServiceCIDR).
			hint("kubectl delete service %s && kubectl expose deployment %s --port 80", svc.Name, svc.Name)
	}
	ports := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%d/%s→%s", p.Port, p.Protocol, p.TargetPort.String()))
	}
	addr, err := netip.ParseAddr(ip)
	if cidr := netip.MustParsePrefix(course.ServiceCIDR); err != nil || !cidr.Contains(addr) {
		return warnf("Service %s has ClusterIP %s, outside the course's service range %s (was kube-apiserver started with another --service-cluster-ip-range?).", svc.Name, ip, course.ServiceCIDR).
			saw(ip, "an address in "+course.ServiceCIDR)
	}
	return passf("Service %s has ClusterIP %s (ports %s), allocated by the API server from %s.", svc.Name, ip, strings.Join(ports, ", "), course.ServiceCIDR).
		saw(ip, "an address in "+course.ServiceCIDR)
}

// ServiceEndpointsReady checks that the endpointslice controller lists the
// Deployment's Running pod behind the Service, ready.
type ServiceEndpointsReady struct{}

// Name implements Checker.
func (ServiceEndpointsReady) Name() string { return "service-endpoints-ready" }

// Check implements Checker.
func (ServiceEndpointsReady) Check(ctx context.Context, env *Env) (Result, error) {
	svc, fail := service(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	pod, kube, fail := runningPod(ctx, env)
	if fail != nil {
		return *fail, nil
	}
	slices, err := kube.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
	if err != nil {
		return apiFailure(env, err), nil
	}
	r := endpointsVerdict(svc, pod, slices.Items)
	if !r.Passed() && len(slices.Items) == 0 {
		if lv := livenessOf(ctx, env, kube, course.ControllerManager); !lv.Alive {
			r.Message += " " + lv.Message
			r = r.hint("start kube-controller-manager again: its endpointslice controller writes them (kubetutor show controller-manager --commands)")
		}
	}
	return r, nil
}

// endpointsVerdict judges the Service's EndpointSlices against its pod.
func endpointsVerdict(svc *corev1.Service, pod *corev1.Pod, slices []discoveryv1.EndpointSlice) Result {
	if len(slices) == 0 {
		return failf("Service %s has no EndpointSlice yet: nothing has listed the pods behind it.", svc.Name).
			saw("no EndpointSlice", "an EndpointSlice listing "+pod.Status.PodIP).
			hint("kube-controller-manager's endpointslice controller writes them within a second; kubetutor check controller-manager")
	}
	var seen []string
	for _, sl := range slices {
		managed := sl.Labels[discoveryv1.LabelManagedBy] == endpointSliceManager
		for _, ep := range sl.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			for _, a := range ep.Addresses {
				seen = append(seen, fmt.Sprintf("%s (ready=%t)", a, ready))
				if a != pod.Status.PodIP {
					continue
				}
				if !ready {
					return failf("EndpointSlice %s lists pod %s (%s) as not ready: the Service sends it no traffic.", sl.Name, pod.Name, a).
						saw(a+" not ready", a+" ready").
						hint("kubectl describe pod %s: its Ready condition decides", pod.Name)
				}
				r := passf("EndpointSlice %s lists pod %s at %s, ready, behind Service %s.", sl.Name, pod.Name, a, svc.Name).
					saw(a+" ready", pod.Status.PodIP+" ready")
				if !managed {
					r = r.detail("it is managed by %q, not the endpointslice controller", sl.Labels[discoveryv1.LabelManagedBy])
				}
				return r
			}
		}
	}
	return failf("The EndpointSlices of Service %s list %s, not the Running pod %s (%s).", svc.Name, orNone(strings.Join(seen, ", ")), pod.Name, pod.Status.PodIP).
		saw(orNone(strings.Join(seen, ", ")), pod.Status.PodIP+" ready").
		hint("does the Service's selector match the pod's labels? kubectl get service %s -o wide; kubectl get pods --show-labels", svc.Name)
}
