package pki

import (
	"testing"
)

// BenchmarkCertsInit measures `kubetutor certs init`: the CA, the API
// server's certificate, admin's and the ServiceAccount key pair, written to
// disk, and with --per-component four more identities.
func BenchmarkCertsInit(b *testing.B) {
	cases := []struct {
		name string
		opts Options
	}{
		{"rsa-2048", Options{KeyAlgo: "rsa", KeySize: 2048}},
		{"ecdsa-p256", Options{KeyAlgo: "ecdsa", KeySize: 256}},
		{"rsa-2048-per-component", Options{KeyAlgo: "rsa", KeySize: 2048, PerComponent: true, NodeName: "bench"}},
		{"ecdsa-p256-per-component", Options{KeyAlgo: "ecdsa", KeySize: 256, PerComponent: true, NodeName: "bench"}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			opts := bc.opts
			opts.WorkDir = b.TempDir()
			opts.Force = true
			for b.Loop() {
				res, err := Init(opts)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(res.Files)), "files/op")
			}
		})
	}
}
