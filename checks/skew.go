package checks

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubetutor/kubetutor/course"
)

// CourseKubernetesVersion is the Kubernetes release the lessons are written
// for (the version `kubetutor fetch` downloads).
const CourseKubernetesVersion = course.KubernetesVersion

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
	ref, refName := versions[course.APIServer], course.APIServer+" "+versions[course.APIServer]
	if ref == "" {
		ref, refName = CourseKubernetesVersion, "the course's Kubernetes "+CourseKubernetesVersion
	}
	refMajor, refMinor, _ := kubeMinor(ref)
	var problems, fine []string
	for _, c := range course.Components() {
		r := c.Skew
		ver, ok := versions[c.Name]
		if !ok || r == nil {
			continue
		}
		major, minor, ok := kubeMinor(ver)
		if !ok {
			continue
		}
		d := minor - refMinor
		if major != refMajor || d > r.Newer || -d > r.Older {
			problems = append(problems, fmt.Sprintf("%s %s is %s %s (%s)", c.Name, ver, skewWords(d, major != refMajor), refName, r.Policy))
			continue
		}
		fine = append(fine, c.Name+" "+ver)
	}
	if len(problems) > 0 {
		return failf("Version skew outside Kubernetes' policy: %s.", strings.Join(problems, "; ")).
			saw(strings.Join(problems, "; "), "versions within the skew policy of "+refName).
			hint("use the course's %s binaries: the tools step's commands (kubetutor show tools --commands) put them in bin/, which is searched before PATH", CourseKubernetesVersion), nil
	}
	if _, cm, ok := kubeMinor(CourseKubernetesVersion); ok && versions[course.APIServer] != "" && cm != refMinor {
		return warnf("kube-apiserver is %s; the lessons are written for %s: flags and messages may differ.", versions[course.APIServer], CourseKubernetesVersion).
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
