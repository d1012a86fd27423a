package fsutil

import "bytes"

// CappedBuffer keeps the first N bytes written to it in B and drops the
// rest, so a chatty program's output cannot fill memory. It never fails.
type CappedBuffer struct {
	B *bytes.Buffer
	N int
}

func (l *CappedBuffer) Write(p []byte) (int, error) {
	if room := l.N - l.B.Len(); room > 0 {
		if len(p) > room {
			l.B.Write(p[:room])
		} else {
			l.B.Write(p)
		}
	}
	return len(p), nil
}
