// Package balancer chooses a server for a new meeting from a snapshot of
// candidates. Policies never touch the store: the caller builds the
// candidate list (placeable servers, their last polled health and the
// number of meetings recently placed on each) and a Policy picks one.
//
// # Policies
//
// LeastLoaded (name "least-load", the default) picks the candidate with
// the lowest weighted load, where load counts participants and meetings
// and every young meeting (placed within the caller's young window) is
// charged at a minimum expected size. Because the caller counts each
// placement as young for the next pick, a burst of creates between two
// polls spreads over the servers instead of piling onto the emptiest one.
//
// RoundRobin (name "round-robin") cycles over the candidates in ID order,
// as the original tinyscale did.
//
// # Tags
//
// A create may carry meta_server-tag. ParseTag splits its value into a tag
// and a required flag ("x!" requires x); ByTag narrows the candidates:
//
//   - tag "x", not required: the servers tagged x; if none, the untagged
//     servers; if none either, tinyscale.ErrNoServer.
//   - tag "x", required ("x!"): the servers tagged x; if none,
//     tinyscale.ErrTagUnavailable (rendered as FAILED serverTagUnavailable).
//   - no tag, with a configured default tag d: as if "d" had been given
//     (not required): servers tagged d, else untagged servers.
//   - no tag and no default tag: the untagged servers; if every candidate
//     carries a tag, any candidate.
//
// A server may carry several tags; it matches each of them. Tags are
// compared exactly (case-sensitive).
package balancer

import (
	"fmt"
	"strings"
	"sync"

	"github.com/tinyscale/tinyscale"
)

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

// Policy names accepted by New.
const (
	// NameLeastLoad selects LeastLoaded; it is the default.
	NameLeastLoad = "least-load"
	// NameRoundRobin selects RoundRobin.
	NameRoundRobin = "round-robin"
)

// Names lists the policy names New accepts, default first.
func Names() []string { return []string{NameLeastLoad, NameRoundRobin} }

// New returns the policy called name with default settings. An empty name
// selects the default, "least-load". An unknown name yields an error that
// lists the valid ones.
func New(name string) (Policy, error) {
	switch strings.TrimSpace(name) {
	case "", NameLeastLoad:
		return &LeastLoaded{}, nil
	case NameRoundRobin:
		return &RoundRobin{}, nil
	}
	return nil, fmt.Errorf("balancer: unknown policy %q (valid: %s)", name, strings.Join(Names(), ", "))
}

// Defaults of LeastLoaded.
const (
	// DefaultMeetingCost is the load of a meeting itself, in participants.
	DefaultMeetingCost = 1
	// DefaultMinMeetingSize is the number of participants a young meeting
	// is assumed to bring.
	DefaultMinMeetingSize = 5
)

// LeastLoaded picks the candidate with the lowest Load. The zero value is
// ready to use with the defaults; it holds no state and is safe for
// concurrent use.
//
// Load counts what a BBB server spends its resources on: every participant
// costs one unit and every meeting MeetingCost units (a meeting's media
// and recording processes cost something even when few attend). A young
// meeting (one placed within the caller's young window) costs
// MinMeetingSize+MeetingCost: users have not joined yet, and a poll may not
// even have seen it, so it is charged at the size it will probably reach.
// The sum is divided by the server's Weight, so a server of weight 2 is
// filled to twice the load of a server of weight 1.
//
// A young meeting the poller has already seen is counted both ways (its
// polled participants and meeting cost, plus the young charge) until it
// leaves the window. This over-estimate is bounded, short-lived and errs
// towards spreading; counting it once would need per-meeting data that the
// candidate snapshot does not carry.
//
// Ties go to the smallest server ID. A burst still spreads: every
// placement raises the chosen server's Young, so the next pick sees it as
// loaded.
type LeastLoaded struct {
	// MeetingCost is the load of one meeting, in participants; zero or
	// negative means DefaultMeetingCost (1).
	MeetingCost float64
	// MinMeetingSize is the number of participants a young meeting is
	// charged for on top of MeetingCost; zero or negative means
	// DefaultMinMeetingSize (5).
	MinMeetingSize float64
}

// Load returns c's load as the policy sees it:
//
//	(Participants + MeetingCost*Meetings + (MinMeetingSize+MeetingCost)*Young) / Weight
//
// with Weight taken as 1 when it is zero or negative.
func (p *LeastLoaded) Load(c Candidate) float64 {
	mc, ms := p.params()
	return load(c, mc, ms)
}

func (p *LeastLoaded) params() (meetingCost, minSize float64) {
	meetingCost, minSize = DefaultMeetingCost, DefaultMinMeetingSize
	if p != nil && p.MeetingCost > 0 {
		meetingCost = p.MeetingCost
	}
	if p != nil && p.MinMeetingSize > 0 {
		minSize = p.MinMeetingSize
	}
	return meetingCost, minSize
}

func load(c Candidate, meetingCost, minSize float64) float64 {
	w := c.Server.Weight
	if w <= 0 {
		w = 1
	}
	l := float64(c.Health.Participants) + meetingCost*float64(c.Health.Meetings) +
		(minSize+meetingCost)*float64(c.Young)
	return l / w
}

// Pick implements Policy: the index of the candidate with the lowest Load,
// the smallest Server.ID among equal loads. It returns tinyscale.ErrNoServer
// if cands is empty.
func (p *LeastLoaded) Pick(cands []Candidate) (int, error) {
	if len(cands) == 0 {
		return 0, tinyscale.ErrNoServer
	}
	mc, ms := p.params()
	best, bestLoad := 0, load(cands[0], mc, ms)
	for i := 1; i < len(cands); i++ {
		l := load(cands[i], mc, ms)
		if l < bestLoad || (l == bestLoad && cands[i].Server.ID < cands[best].Server.ID) {
			best, bestLoad = i, l
		}
	}
	return best, nil
}

// RoundRobin cycles over the candidates in server ID order: each Pick
// returns the candidate with the smallest ID greater than the ID picked
// last, wrapping around to the smallest. Because it remembers an ID rather
// than a position, servers joining or leaving the candidate list do not
// make it skip or repeat others. The zero value is ready to use; it is
// safe for concurrent use.
type RoundRobin struct {
	mu   sync.Mutex
	last string
	used bool
}

// Pick implements Policy. It returns tinyscale.ErrNoServer if cands is
// empty.
func (r *RoundRobin) Pick(cands []Candidate) (int, error) {
	if len(cands) == 0 {
		return 0, tinyscale.ErrNoServer
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	next, lowest := -1, 0
	for i, c := range cands {
		id := c.Server.ID
		if id < cands[lowest].Server.ID {
			lowest = i
		}
		if r.used && id > r.last && (next < 0 || id < cands[next].Server.ID) {
			next = i
		}
	}
	if next < 0 {
		next = lowest
	}
	r.last, r.used = cands[next].Server.ID, true
	return next, nil
}

// ParseTag splits a meta_server-tag value into the tag and whether it is
// required: "x" prefers servers tagged x, "x!" requires one. Surrounding
// white space is ignored. A value that is empty (or just "!") means no
// tag: ("", false).
func ParseTag(v string) (tag string, required bool) {
	v = strings.TrimSpace(v)
	if t, ok := strings.CutSuffix(v, "!"); ok {
		v, required = strings.TrimSpace(t), true
	}
	if v == "" {
		return "", false
	}
	return v, required
}

// ByTag returns the candidates a create with the given tag may use, in
// their original order, following the rules in the package documentation:
//
//   - tag set, required: candidates carrying tag, or an error wrapping
//     tinyscale.ErrTagUnavailable if there are none;
//   - tag set, not required: candidates carrying tag, else untagged ones,
//     else an error wrapping tinyscale.ErrNoServer;
//   - no tag, defaultTag set: as for tag = defaultTag, not required;
//   - no tag, no defaultTag: untagged candidates, or all candidates if
//     every one carries a tag (an error wrapping tinyscale.ErrNoServer if
//     cands is empty).
//
// The returned slice is never empty when the error is nil. It may share
// cands' backing array only when it is cands itself; cands is not
// modified.
func ByTag(cands []Candidate, tag string, required bool, defaultTag string) ([]Candidate, error) {
	if tag == "" {
		if defaultTag == "" {
			if len(cands) == 0 {
				return nil, fmt.Errorf("untagged placement: %w", tinyscale.ErrNoServer)
			}
			if untagged := filter(cands, func(c Candidate) bool { return len(c.Server.Tags) == 0 }); len(untagged) > 0 {
				return untagged, nil
			}
			return cands, nil
		}
		tag, required = defaultTag, false
	}
	if tagged := filter(cands, func(c Candidate) bool { return c.Server.HasTag(tag) }); len(tagged) > 0 {
		return tagged, nil
	}
	if required {
		return nil, fmt.Errorf("server tag %q: %w", tag, tinyscale.ErrTagUnavailable)
	}
	if untagged := filter(cands, func(c Candidate) bool { return len(c.Server.Tags) == 0 }); len(untagged) > 0 {
		return untagged, nil
	}
	return nil, fmt.Errorf("server tag %q, no tagged or untagged server: %w", tag, tinyscale.ErrNoServer)
}

// filter returns the candidates for which keep is true, in order; all of
// cands (without copying) if every one is kept.
func filter(cands []Candidate, keep func(Candidate) bool) []Candidate {
	var out []Candidate
	for i, c := range cands {
		if keep(c) {
			if out != nil {
				out = append(out, c)
			}
			continue
		}
		if out == nil {
			out = make([]Candidate, i, len(cands))
			copy(out, cands[:i])
		}
	}
	if out == nil {
		return cands
	}
	return out
}
