package loadgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tinyscale/tinyscale/bbb"
)

// Scenario names.
const (
	// ScenarioJoin sends join for existing meetings (answered with a 302
	// that is not followed).
	ScenarioJoin = "join"
	// ScenarioCreate creates a new meeting with every request.
	ScenarioCreate = "create"
	// ScenarioPoll alternates getMeetingInfo and isMeetingRunning on
	// existing meetings, as Moodle's and Greenlight's room pages do.
	ScenarioPoll = "poll"
	// ScenarioGetMeetings sends getMeetings.
	ScenarioGetMeetings = "getMeetings"
	// ScenarioMixed mixes the calls in MixedWeights.
	ScenarioMixed = "mixed"
)

// Scenarios lists the scenario names Run accepts.
var Scenarios = []string{ScenarioJoin, ScenarioCreate, ScenarioPoll, ScenarioGetMeetings, ScenarioMixed}

// MixedWeights is the share (percent) of each call in the mixed scenario:
// mostly status polling, then joins, a few new meetings, rare getMeetings.
var MixedWeights = []struct {
	Call   string
	Weight int
}{
	{bbb.CallGetMeetingInfo, 40},
	{bbb.CallIsMeetingRunning, 25},
	{bbb.CallJoin, 25},
	{bbb.CallCreate, 8},
	{bbb.CallGetMeetings, 2},
}

// Passwords of the meetings Run creates, and the name it joins with.
const (
	attendeePW  = "ap-load"
	moderatorPW = "mp-load"
	joinName    = "Load User"
	originTag   = "tinyscale-load"
)

// callNames numbers the calls a scenario can send, for per-call statistics.
var callNames = []string{bbb.CallJoin, bbb.CallCreate, bbb.CallGetMeetingInfo, bbb.CallIsMeetingRunning, bbb.CallGetMeetings}

const (
	idxJoin = iota
	idxCreate
	idxGetMeetingInfo
	idxIsMeetingRunning
	idxGetMeetings
	numCalls
)

// NormalizeURL turns what an operator types into a BBB API base ending in
// "/bigbluebutton/api/": "http://host:3005", ".../bigbluebutton/api" and
// ".../bigbluebutton/api/" all give "http://host:3005/bigbluebutton/api/";
// any other path is kept as a prefix ("https://h/bbb" gives
// "https://h/bbb/bigbluebutton/api/"). Without a scheme, http is assumed
// ("localhost:3005"). Only http and https are accepted, and no query or
// fragment.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("url %q: want http[s]://host[:port][/bigbluebutton/api/]", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("url %q: must not have a query or fragment", raw)
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if !strings.HasSuffix(p, "/bigbluebutton/api") {
		p += "/bigbluebutton/api"
	}
	return u.Scheme + "://" + u.Host + p + "/", nil
}

// target is one request to send: the call's index and its signed URL.
type target struct {
	call int
	url  *url.URL
}

// signer builds signed API URLs.
type signer struct {
	base, secret, alg string
}

func (s signer) target(call int, query string) (target, error) {
	name := callNames[call]
	u, err := url.Parse(s.base + name + "?" + bbb.Sign(s.alg, name, query, s.secret))
	if err != nil {
		return target{}, fmt.Errorf("build %s url: %w", name, err)
	}
	return target{call: call, url: u}, nil
}

// scenario picks the next request for a worker. Fixed URLs are signed
// once, in newScenario, so a request costs the generator little more than
// the HTTP round trip.
type scenario struct {
	name          string
	needsMeetings bool
	meetings      []string // existing meeting IDs

	joins, infos, runnings []target // per meeting
	getMeetings            target

	s       signer
	prefix  string // of meetings created by the create call
	created atomic.Int64

	// mixed: cumulative weights over callNames indices.
	cum [numCalls]int
}

func newScenario(name string, s signer, prefix, runID string, meetings int) (*scenario, error) {
	sc := &scenario{name: name, s: s, prefix: prefix + "new-" + runID + "-"}
	var uses [numCalls]bool
	switch name {
	case ScenarioJoin:
		uses[idxJoin] = true
	case ScenarioCreate:
		uses[idxCreate] = true
	case ScenarioPoll:
		uses[idxGetMeetingInfo], uses[idxIsMeetingRunning] = true, true
	case ScenarioGetMeetings:
		uses[idxGetMeetings] = true
	case ScenarioMixed:
		total := 0
		for _, w := range MixedWeights {
			i := indexOf(w.Call)
			if i < 0 {
				return nil, fmt.Errorf("mixed: call %q is not one the load generator sends", w.Call)
			}
			uses[i] = true
			total += w.Weight
			sc.cum[i] = w.Weight
		}
		run := 0
		for i := range sc.cum {
			run += sc.cum[i]
			sc.cum[i] = run
		}
		if total != 100 {
			return nil, errors.New("mixed weights must add up to 100")
		}
	default:
		return nil, fmt.Errorf("unknown scenario %q (want %s)", name, strings.Join(Scenarios, ", "))
	}
	sc.needsMeetings = uses[idxJoin] || uses[idxGetMeetingInfo] || uses[idxIsMeetingRunning]
	if sc.needsMeetings {
		if meetings < 1 {
			return nil, fmt.Errorf("scenario %s needs at least 1 meeting", name)
		}
		sc.meetings = make([]string, meetings)
		for i := range sc.meetings {
			sc.meetings[i] = MeetingID(prefix, i+1)
		}
	}
	build := func(call int, query func(id string) string) ([]target, error) {
		if !uses[call] {
			return nil, nil
		}
		ts := make([]target, len(sc.meetings))
		for i, id := range sc.meetings {
			t, err := s.target(call, query(id))
			if err != nil {
				return nil, err
			}
			ts[i] = t
		}
		return ts, nil
	}
	var err error
	if sc.joins, err = build(idxJoin, joinQuery); err != nil {
		return nil, err
	}
	if sc.infos, err = build(idxGetMeetingInfo, meetingQuery); err != nil {
		return nil, err
	}
	if sc.runnings, err = build(idxIsMeetingRunning, meetingQuery); err != nil {
		return nil, err
	}
	if uses[idxGetMeetings] {
		if sc.getMeetings, err = s.target(idxGetMeetings, ""); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func indexOf(call string) int {
	for i, c := range callNames {
		if c == call {
			return i
		}
	}
	return -1
}

// MeetingID returns the ID of the n-th (1-based) existing meeting Run uses
// with the given prefix: prefix followed by n.
func MeetingID(prefix string, n int) string { return prefix + strconv.Itoa(n) }

// CreateQuery returns the (unsigned) create query Run uses for meetingID.
func CreateQuery(meetingID string) string {
	return "name=" + url.QueryEscape("Load test "+meetingID) +
		"&meetingID=" + url.QueryEscape(meetingID) +
		"&attendeePW=" + attendeePW + "&moderatorPW=" + moderatorPW +
		"&record=false&meta_bbb-origin=" + originTag
}

func joinQuery(id string) string {
	return "fullName=" + url.QueryEscape(joinName) + "&meetingID=" + url.QueryEscape(id) +
		"&password=" + attendeePW + "&role=VIEWER"
}

func meetingQuery(id string) string { return "meetingID=" + url.QueryEscape(id) }

// next returns the worker's next request.
func (sc *scenario) next(rng *rand.Rand) (target, error) {
	switch sc.name {
	case ScenarioJoin:
		return sc.joins[rng.IntN(len(sc.joins))], nil
	case ScenarioPoll:
		i := rng.IntN(len(sc.meetings))
		if rng.IntN(2) == 0 {
			return sc.infos[i], nil
		}
		return sc.runnings[i], nil
	case ScenarioGetMeetings:
		return sc.getMeetings, nil
	case ScenarioCreate:
		return sc.create()
	}
	r := rng.IntN(100)
	call := 0
	for call < numCalls-1 && r >= sc.cum[call] {
		call++
	}
	switch call {
	case idxJoin:
		return sc.joins[rng.IntN(len(sc.joins))], nil
	case idxCreate:
		return sc.create()
	case idxGetMeetingInfo:
		return sc.infos[rng.IntN(len(sc.infos))], nil
	case idxIsMeetingRunning:
		return sc.runnings[rng.IntN(len(sc.runnings))], nil
	}
	return sc.getMeetings, nil
}

// create signs a create of a new, unique meeting.
func (sc *scenario) create() (target, error) {
	id := sc.prefix + strconv.FormatInt(sc.created.Add(1), 10)
	return sc.s.target(idxCreate, CreateQuery(id))
}
