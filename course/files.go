package course

// WorkloadImage is the offline stand-in for nginx (internal/images packs it);
// it has a tag, so the kubelet's pull policy is IfNotPresent and it never
// tries a registry.
const WorkloadImage = "localhost/kubetutor/web:1.0"

// APIServerURL is where the lessons put the API server (checks'
// DefaultAPIServerURL).
const APIServerURL = "https://127.0.0.1:6443"

// The talk's certificate files, under certs/ in the work dir.
const (
	CAFile                = "ca.crt"
	CAKeyFile             = "ca.key"
	ServerCertFile        = "server.crt"
	ServerKeyFile         = "server.key"
	ServiceAccountKeyFile = "service-account-key.pem"
	ServiceAccountPubFile = "service-account.pem"
)

// RequiredSANs are the names and addresses the API server's certificate must
// cover: the talk's list plus the first service IP that in-cluster clients
// use. Callers must not modify it.
var RequiredSANs = []string{
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster",
	"kubernetes.default.svc.cluster.local",
	"127.0.0.1",
	"10.0.0.1",
}

// KubeletURL is where the kubelet's own HTTPS API (logs, exec, /pods,
// /configz) answers on the node: port 10250 on every address.
const KubeletURL = "https://127.0.0.1:10250"

// ServiceCIDR is the Services' virtual IP range the apiserver lesson gives
// (--service-cluster-ip-range); the kubernetes Service takes its first
// address.
const ServiceCIDR = "10.0.0.0/24"

// KubernetesServiceIP is the ClusterIP of the kubernetes Service, the first
// address of ServiceCIDR, which the API server's certificate must name.
const KubernetesServiceIP = "10.0.0.1"

// The cluster DNS of act two: CoreDNS, the kube-dns Service's address (the
// tenth of ServiceCIDR, as kubeadm picks it) and the cluster's domain.
const (
	// CoreDNSVersion is the CoreDNS release kubeadm v1.37 deploys; `fetch
	// --from-source coredns` builds it and `images load --coredns` packs
	// it under CoreDNSImage.
	CoreDNSVersion = "v1.14.6"
	CoreDNSImage   = "registry.k8s.io/coredns/coredns:" + CoreDNSVersion
	ClusterDNSIP   = "10.0.0.10"
	ClusterDomain  = "cluster.local"
)
