package checks

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// CourseKubernetesVersion is the Kubernetes release the lessons are written
// for (the version `kubetutor fetch` downloads).
const CourseKubernetesVersion = "v1.37.2"

// skewRule is Kubernetes' version skew policy for one program, relative to
// kube-apiserver: its minor version may be at most Newer above and Older
// below the API server's.
type skewRule struct {
	Program      string
	Newer, Older int
	Policy       string
}

// skewRules are from https://kubernetes.io/releases/version-skew-policy/.
var skewRules = []skewRule{
	{"kubectl", 1, 1, "kubectl is supported within one minor version (older or newer) of kube-apiserver"},
	{"kube-controller-manager", 0, 1, "kube-controller-manager must not be newer than kube-apiserver, and at most one minor version older"},
	{"kube-scheduler", 0, 1, "kube-scheduler must not be newer than kube-apiserver, and at most one minor version older"},
	{"kubelet", 0, 3, "the kubelet must not be newer than kube-apiserver, and at most three minor versions older"},
}

var minorRE = regexp.MustCompile(`v?(\d+)\.(\d+)\.\d+`)

// kubeMinor is the (major, minor) of a version string.
func kubeMinor(v string) (int, int, bool) {
	m := minorRE.FindStringSubmatch(v)
	if m == nil {
		return 0, 0, false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major, minor, true
}

// VersionSkew checks the programs found by the tools step against
// Kubernetes' version skew policy, with kube-apiserver's version as the
// reference (the course's when kube-apiserver is not found).
type VersionSkew struct {
	// Binaries are the programs of the tools step.
	Binaries []Binary
}

// Name implements Checker.
func (VersionSkew) Name() string { return "version-skew" }

// Check implements Checker.
func (v VersionSkew) Check(ctx context.Context, env *Env) (Result, error) {
	versions := map[string]string{}
	for _, b := range v.Binaries {
		path, _, err := b.find(env)
		if err != nil {
			continue
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode()&0o111 == 0 {
			continue
		}
		out, err := env.binaryOutput(ctx, path, fi, b.VersionArgs)
		if err != nil {
			continue // the program's own check says why
		}
		if ver := versionRE.FindString(out); ver != "" {
			versions[b.Program] = ver
		}
	}
	ref, refName := versions["kube-apiserver"], "kube-apiserver "+versions["kube-apiserver"]
	if ref == "" {
		ref, refName = CourseKubernetesVersion, "the course's Kubernetes "+CourseKubernetesVersion
	}
	refMajor, refMinor, _ := kubeMinor(ref)
	var problems, fine []string
	for _, r := range skewRules {
		ver, ok := versions[r.Program]
		if !ok {
			continue
		}
		major, minor, ok := kubeMinor(ver)
		if !ok {
			continue
		}
		d := minor - refMinor
		if major != refMajor || d > r.Newer || -d > r.Older {
			problems = append(problems, fmt.Sprintf("%s %s is %s %s (%s)", r.Program, ver, skewWords(d, major != refMajor), refName, r.Policy))
			continue
		}
		fine = append(fine, r.Program+" "+ver)
	}
	if len(problems) > 0 {
		return failf("Version skew outside Kubernetes' policy: %s.", strings.Join(problems, "; ")).
			saw(strings.Join(problems, "; "), "versions within the skew policy of "+refName).
			hint("use the course's %s binaries: the tools step's commands (kubetutor show tools --commands) put them in bin/, which is searched before PATH", CourseKubernetesVersion), nil
	}
	if _, cm, ok := kubeMinor(CourseKubernetesVersion); ok && versions["kube-apiserver"] != "" && cm != refMinor {
		return warnf("kube-apiserver is %s; the lessons are written for %s: flags and messages may differ.", versions["kube-apiserver"], CourseKubernetesVersion).
			hint("the tools step's commands (kubetutor show tools --commands) fetch %s", CourseKubernetesVersion), nil
	}
	if len(fine) == 0 {
		return passf("No Kubernetes program found yet to compare."), nil
	}
	return passf("Versions agree with Kubernetes' skew policy against %s: %s.", refName, strings.Join(fine, ", ")), nil
}

func skewWords(d int, otherMajor bool) string {
	switch {
	case otherMajor:
		return "another major version than"
	case d == 1:
		return "one minor version newer than"
	case d > 1:
		return fmt.Sprintf("%d minor versions newer than", d)
	case d == -1:
		return "one minor version older than"
	}
	return fmt.Sprintf("%d minor versions older than", -d)
}
