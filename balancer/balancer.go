// Package balancer chooses a server for a new meeting from a snapshot of
// candidates. Policies never touch the store.
package balancer

import "github.com/tinyscale/tinyscale"

// Candidate is one server that could take a new meeting.
type Candidate struct {
	Server tinyscale.Server
	Health tinyscale.Health
	// Young counts meetings placed on the server within the young-meeting
	// window (from the store, shared by all instances), including those a
	// poll has not seen yet.
	Young int
}

// Policy picks one candidate. Pick returns an index into cands, or
// tinyscale.ErrNoServer if cands is empty.
type Policy interface {
	Pick(cands []Candidate) (int, error)
}

// LeastLoaded is a stub; replaced by the real policy.
type LeastLoaded struct{}

// Pick implements Policy.
func (p *LeastLoaded) Pick(cands []Candidate) (int, error) {
	if len(cands) == 0 {
		return 0, tinyscale.ErrNoServer
	}
	return 0, nil
}
