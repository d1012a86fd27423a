// Package course holds the few names the course's layers share. It imports
// nothing, so that a package needing one of them (checks, images) does not
// pull in another's dependencies.
package course

// WorkloadImage is the offline stand-in for nginx (internal/images packs it);
// it has a tag, so the kubelet's pull policy is IfNotPresent and it never
// tries a registry.
const WorkloadImage = "localhost/kubetutor/web:1.0"
