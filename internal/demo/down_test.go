package demo

import (
	"reflect"
	"testing"
)

func TestSplitRule(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`-A POSTROUTING -s 10.244.0.2/32 -m comment --comment "name: \"bridge\" id: \"d75e\"" -j CNI-5970f403`,
			[]string{"-A", "POSTROUTING", "-s", "10.244.0.2/32", "-m", "comment", "--comment", `name: "bridge" id: "d75e"`, "-j", "CNI-5970f403"}},
		{`-A CNI-x -d 10.244.0.0/24 -j ACCEPT`, []string{"-A", "CNI-x", "-d", "10.244.0.0/24", "-j", "ACCEPT"}},
		{`-A X --comment ""`, []string{"-A", "X", "--comment", ""}},
	}
	for _, tc := range cases {
		if got := splitRule(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
