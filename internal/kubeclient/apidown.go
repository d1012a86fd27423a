package kubeclient

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

// NoteAPIDown records that the API server did not answer in time.
func (c *Client) NoteAPIDown(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	host := ""
	if c.restConfig != nil {
		host = c.restConfig.Host
	}
	c.apiDown = apiDownMemo{host: host, err: err, at: time.Now()}
}

// ForgetAPIDown forgets an API server found unreachable: the step runner
// calls it when a run (check, one re-check of --watch or the walkthrough)
// begins, so that each run asks the server once.
func (c *Client) ForgetAPIDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apiDown = apiDownMemo{}
}

// APIDownErr is the error recorded in this run for the same server within
// the last timeout, nil if there is none.
func (c *Client) APIDownErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.apiDownLocked()
}

func (c *Client) apiDownLocked() error {
	m := c.apiDown
	if m.err == nil || c.kubeInjected {
		return nil
	}
	host := ""
	if c.restConfig != nil {
		host = c.restConfig.Host
	}
	// Never for longer than one timeout, should a caller run checks
	// without the step runner (which forgets it at each run).
	if host != m.host || time.Since(m.at) > c.settings().Timeout {
		return nil
	}
	return m.err
}
