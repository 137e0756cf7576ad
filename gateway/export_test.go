package gateway

// Hooks for the black-box tests.

// RoundWaiters returns how many getMeetings wait for the fan-out in
// flight (0 if none is).
func RoundWaiters(g *Gateway) int {
	g.roundMu.Lock()
	defer g.roundMu.Unlock()
	if g.round == nil {
		return 0
	}
	return g.round.waiters
}

// Learning reports whether a getMeetings learning run is in progress.
func Learning(g *Gateway) bool { return g.learning.Load() }
