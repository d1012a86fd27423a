package checks

import "time"

// apiDownMemo remembers an API server that did not answer in time, so that
// the other checks that need it in the same run fail at once instead of
// each waiting the full timeout again (`check --all` against a server that
// accepts connections and never answers: one timeout, not nine).
type apiDownMemo struct {
	host string
	err  error
	at   time.Time
}

// noteAPIDown records that the API server did not answer in time.
func (e *Env) noteAPIDown(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	host := ""
	if e.restConfig != nil {
		host = e.restConfig.Host
	}
	e.apiDown = apiDownMemo{host: host, err: err, at: time.Now()}
}

// apiDownErr is the recorded error while it is fresh (younger than one
// timeout, for the same server), nil otherwise: a long-lived Env (--watch,
// the walkthrough) asks again once it is older.
func (e *Env) apiDownErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.apiDown
	if m.err == nil || e.kubeInjected {
		return nil
	}
	host := ""
	if e.restConfig != nil {
		host = e.restConfig.Host
	}
	if host != m.host || time.Since(m.at) > e.Timeout {
		return nil
	}
	return m.err
}
