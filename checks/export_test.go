package checks

// CoreDNSReadyVerdictForTest lets the external tests judge an answer of
// CoreDNS's /ready without a pod to ask.
var CoreDNSReadyVerdictForTest = coreDNSReadyVerdict
