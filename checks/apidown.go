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

// ForgetAPIDown forgets an API server found unreachable: the step runner
// calls it when a run (check, one re-check of --watch or the walkthrough)
// begins, so that each run asks the server once.
func (e *Env) ForgetAPIDown() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apiDown = apiDownMemo{}
}

// apiDownErr is the error recorded in this run for the same server within
// the last timeout, nil if there is none.
func (e *Env) apiDownErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.apiDownLocked()
}

func (e *Env) apiDownLocked() error {
	m := e.apiDown
	if m.err == nil || e.kubeInjected {
		return nil
	}
	host := ""
	if e.restConfig != nil {
		host = e.restConfig.Host
	}
	// Never for longer than one timeout, should a caller run checks
	// without the step runner (which forgets it at each run).
	if host != m.host || time.Since(m.at) > e.Timeout {
		return nil
	}
	return m.err
}
