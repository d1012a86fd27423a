package checks

// CoreDNSReadyVerdictForTest lets the external tests judge an answer of
// CoreDNS's /ready without a pod to ask.
var CoreDNSReadyVerdictForTest = coreDNSReadyVerdict

// KubernetesTLSVerdictForTest judges the certificates answering at
// 10.0.0.1:443 without a kube-proxy to send them.
var KubernetesTLSVerdictForTest = kubernetesTLSVerdict

// KubeletCallFailureForTest explains a failed logs or exec request without
// an API server to relay the kubelet's answer.
var KubeletCallFailureForTest = kubeletCallFailure
