// Package storetest is the contract suite that every tinyscale.Store
// implementation must pass.
//
// An implementation's tests call Run with a constructor that returns a new,
// empty store for each subtest:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) tinyscale.Store {
//			s, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		}, storetest.WithReopen(...))
//	}
//
// The suite closes some stores itself, so Close must be safe to call more
// than once. Subtests are named "Method/case", for example
// "ClaimMeeting/concurrent_one_winner", so a single case can be run with
// -run.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
)

// Option configures Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T) func() tinyscale.Store
}

// WithReopen enables the Reopen subtests. For each of them, the suite calls
// prepare once to get an open function bound to one fresh location (a file,
// a key prefix), then calls open, writes, closes the store, calls open again
// and checks that everything written is still there. open must not register
// a Cleanup that deletes the data between the two calls.
func WithReopen(prepare func(t *testing.T) (open func() tinyscale.Store)) Option {
	return func(c *config) { c.reopen = prepare }
}

// Concurrency is the number of goroutines used by the concurrency cases.
const Concurrency = 100

// Run runs the whole contract suite against the stores newStore returns.
// newStore is called once per subtest and must return an empty store that
// stays open until the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) tinyscale.Store, opts ...Option) {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	s := suite{newStore: newStore}

	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Servers", s.servers()},
		{"DeleteServer", s.deleteServer()},
		{"Meeting", s.meeting()},
		{"ClaimMeeting", s.claimMeeting()},
		{"PutMeeting", s.putMeeting()},
		{"DeleteMeeting", s.deleteMeeting()},
		{"Meetings", s.meetings()},
		{"MeetingsSince", s.meetingsSince()},
		{"Health", s.health()},
		{"Hooks", s.hooks()},
		{"NextHookID", s.nextHookID()},
		{"Recordings", s.recordings()},
		{"Once", s.once()},
		{"AcquireLease", s.acquireLease()},
		{"Ping", s.ping()},
		{"Context", s.context()},
		{"Close", s.close()},
	}
	if c.reopen != nil {
		groups = append(groups, struct {
			name  string
			cases []testCase
		}{"Reopen", reopenCases(c.reopen)})
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, tc.run)
			}
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T)
}

type suite struct {
	newStore func(t *testing.T) tinyscale.Store
}

// base is a fixed instant with a non-zero nanosecond part, so that stores
// that round times are caught.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func (s suite) servers() []testCase {
	return []testCase{
		{"empty", func(t *testing.T) {
			st := s.newStore(t)
			got, err := st.Servers(t.Context())
			if err != nil {
				t.Fatalf("Servers: got error %v, want nil", err)
			}
			if len(got) != 0 {
				t.Errorf("Servers: got %d servers, want 0", len(got))
			}
		}},
		{"ordered_by_ID", func(t *testing.T) {
			st := s.newStore(t)
			for _, id := range []string{"c", "a", "b10", "b2"} {
				mustPutServer(t, st, tinyscale.Server{ID: id, URL: "https://" + id + "/bigbluebutton/api/", Secret: "s", Weight: 1, State: tinyscale.StateEnabled})
			}
			got := mustServers(t, st)
			if ids, want := serverIDs(got), []string{"a", "b10", "b2", "c"}; !slices.Equal(ids, want) {
				t.Errorf("Servers IDs: got %q, want %q", ids, want)
			}
		}},
		{"roundtrip_all_fields", func(t *testing.T) {
			st := s.newStore(t)
			want := tinyscale.Server{
				ID:        "bbb1.example.com",
				URL:       "https://bbb1.example.com/bigbluebutton/api/",
				Secret:    "0123456789abcdef",
				Weight:    2.5,
				Tags:      []string{"gpu", "eu"},
				State:     tinyscale.StateCordoned,
				Algorithm: "sha512",
			}
			mustPutServer(t, st, want)
			got := mustServers(t, st)
			if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("Servers: got %+v, want [%+v]", got, want)
			}
		}},
		{"put_replaces", func(t *testing.T) {
			st := s.newStore(t)
			mustPutServer(t, st, tinyscale.Server{ID: "a", URL: "https://old/", State: tinyscale.StateEnabled})
			want := tinyscale.Server{ID: "a", URL: "https://new/", State: tinyscale.StateDisabled}
			mustPutServer(t, st, want)
			got := mustServers(t, st)
			if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("Servers: got %+v, want [%+v]", got, want)
			}
		}},
		{"empty_ID_rejected", func(t *testing.T) {
			st := s.newStore(t)
			err := st.PutServer(t.Context(), tinyscale.Server{URL: "https://x/"})
			checkInvalid(t, "PutServer", err)
		}},
	}
}

func (s suite) deleteServer() []testCase {
	return []testCase{
		{"existing", func(t *testing.T) {
			st := s.newStore(t)
			mustPutServer(t, st, tinyscale.Server{ID: "a"})
			mustPutServer(t, st, tinyscale.Server{ID: "b"})
			if err := st.DeleteServer(t.Context(), "a"); err != nil {
				t.Fatalf("DeleteServer: got error %v, want nil", err)
			}
			if ids, want := serverIDs(mustServers(t, st)), []string{"b"}; !slices.Equal(ids, want) {
				t.Errorf("Servers IDs after delete: got %q, want %q", ids, want)
			}
		}},
		{"unknown_ErrNotFound", func(t *testing.T) {
			st := s.newStore(t)
			mustPutServer(t, st, tinyscale.Server{ID: "a"})
			err := st.DeleteServer(t.Context(), "zz")
			if !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("DeleteServer(unknown): got %v, want ErrNotFound", err)
			}
		}},
		{"twice_ErrNotFound", func(t *testing.T) {
			st := s.newStore(t)
			mustPutServer(t, st, tinyscale.Server{ID: "a"})
			if err := st.DeleteServer(t.Context(), "a"); err != nil {
				t.Fatalf("first DeleteServer: got error %v, want nil", err)
			}
			if err := st.DeleteServer(t.Context(), "a"); !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("second DeleteServer: got %v, want ErrNotFound", err)
			}
		}},
	}
}

func (s suite) meeting() []testCase {
	return []testCase{
		{"unknown_ErrNotFound", func(t *testing.T) {
			st := s.newStore(t)
			mustPutMeeting(t, st, meeting("known", "s1", base))
			for _, id := range []string{"unknown", "", "KNOWN", "known "} {
				_, err := st.Meeting(t.Context(), id)
				if !errors.Is(err, tinyscale.ErrNotFound) {
					t.Errorf("Meeting(%q): got %v, want ErrNotFound", id, err)
				}
				if errors.Is(err, tinyscale.ErrStoreUnavailable) {
					t.Errorf("Meeting(%q): got %v, which wrongly wraps ErrStoreUnavailable", id, err)
				}
			}
		}},
		{"roundtrip", func(t *testing.T) {
			st := s.newStore(t)
			ids := []string{
				"plain",
				"with spaces & ampersands=and?query",
				"ünïcödé-会議",
				"a/b\\c\"d'e{f}g",
			}
			for i, id := range ids {
				m := tinyscale.Meeting{ID: id, ServerID: "s" + strconv.Itoa(i), InternalID: "internal-" + strconv.Itoa(i), CreatedAt: base.Add(time.Duration(i))}
				mustPutMeeting(t, st, m)
			}
			for i, id := range ids {
				want := tinyscale.Meeting{ID: id, ServerID: "s" + strconv.Itoa(i), InternalID: "internal-" + strconv.Itoa(i), CreatedAt: base.Add(time.Duration(i))}
				got := mustMeeting(t, st, id)
				if !sameMeeting(got, want) {
					t.Errorf("Meeting(%q): got %+v, want %+v", id, got, want)
				}
			}
		}},
		{"keeps_time_instant_across_zones", func(t *testing.T) {
			st := s.newStore(t)
			zone := time.FixedZone("UTC+5:30", 5*3600+1800)
			want := meeting("m", "s1", base.In(zone))
			mustPutMeeting(t, st, want)
			got := mustMeeting(t, st, "m")
			if !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("CreatedAt: got %v, want %v", got.CreatedAt, want.CreatedAt)
			}
		}},
	}
}

func (s suite) claimMeeting() []testCase {
	return []testCase{
		{"first_wins", func(t *testing.T) {
			st := s.newStore(t)
			want := meeting("m", "s1", base)
			got, stored, err := st.ClaimMeeting(t.Context(), want, "")
			if err != nil {
				t.Fatalf("ClaimMeeting: got error %v, want nil", err)
			}
			if !stored || !sameMeeting(got, want) {
				t.Errorf("ClaimMeeting: got (%+v, %v), want (%+v, true)", got, stored, want)
			}
			if got := mustMeeting(t, st, "m"); !sameMeeting(got, want) {
				t.Errorf("Meeting after claim: got %+v, want %+v", got, want)
			}
		}},
		{"second_gets_stored", func(t *testing.T) {
			st := s.newStore(t)
			first := meeting("m", "s1", base)
			mustClaim(t, st, first, "", true)
			got, stored, err := st.ClaimMeeting(t.Context(), meeting("m", "s2", base.Add(time.Hour)), "")
			if err != nil {
				t.Fatalf("second ClaimMeeting: got error %v, want nil", err)
			}
			if stored || !sameMeeting(got, first) {
				t.Errorf("second ClaimMeeting: got (%+v, %v), want (%+v, false)", got, stored, first)
			}
		}},
		{"same_server_again_not_stored", func(t *testing.T) {
			st := s.newStore(t)
			first := meeting("m", "s1", base)
			mustClaim(t, st, first, "", true)
			got := mustClaim(t, st, meeting("m", "s1", base.Add(time.Minute)), "", false)
			if !sameMeeting(got, first) {
				t.Errorf("ClaimMeeting: got %+v, want the first claim %+v", got, first)
			}
		}},
		{"replace_when_stored_on_replaceServerID", func(t *testing.T) {
			st := s.newStore(t)
			mustClaim(t, st, meeting("m", "dead", base), "", true)
			want := meeting("m", "alive", base.Add(time.Minute))
			got := mustClaim(t, st, want, "dead", true)
			if !sameMeeting(got, want) {
				t.Errorf("failover ClaimMeeting: got %+v, want %+v", got, want)
			}
			if got := mustMeeting(t, st, "m"); !sameMeeting(got, want) {
				t.Errorf("Meeting after failover: got %+v, want %+v", got, want)
			}
		}},
		{"no_replace_when_stored_on_other_server", func(t *testing.T) {
			st := s.newStore(t)
			first := meeting("m", "s1", base)
			mustClaim(t, st, first, "", true)
			got := mustClaim(t, st, meeting("m", "s3", base.Add(time.Minute)), "s2", false)
			if !sameMeeting(got, first) {
				t.Errorf("ClaimMeeting with stale replaceServerID: got %+v, want %+v", got, first)
			}
		}},
		{"replaceServerID_when_absent_stores", func(t *testing.T) {
			st := s.newStore(t)
			want := meeting("m", "s2", base)
			got := mustClaim(t, st, want, "s1", true)
			if !sameMeeting(got, want) {
				t.Errorf("ClaimMeeting: got %+v, want %+v", got, want)
			}
		}},
		{"empty_ID_rejected", func(t *testing.T) {
			st := s.newStore(t)
			_, _, err := st.ClaimMeeting(t.Context(), meeting("", "s1", base), "")
			checkInvalid(t, "ClaimMeeting", err)
		}},
		{"concurrent_one_winner", func(t *testing.T) {
			st := s.newStore(t)
			results := concurrently(t, Concurrency, func(i int) (tinyscale.Meeting, bool, error) {
				return st.ClaimMeeting(t.Context(), meeting("m", "s"+strconv.Itoa(i), base.Add(time.Duration(i))), "")
			})
			checkOneWinner(t, st, results, "")
		}},
		{"concurrent_failover_one_winner", func(t *testing.T) {
			st := s.newStore(t)
			mustClaim(t, st, meeting("m", "dead", base), "", true)
			results := concurrently(t, Concurrency, func(i int) (tinyscale.Meeting, bool, error) {
				return st.ClaimMeeting(t.Context(), meeting("m", "s"+strconv.Itoa(i), base.Add(time.Duration(i))), "dead")
			})
			checkOneWinner(t, st, results, "dead")
		}},
		{"concurrent_many_ids", func(t *testing.T) {
			st := s.newStore(t)
			const ids = 10
			results := concurrently(t, Concurrency, func(i int) (tinyscale.Meeting, bool, error) {
				return st.ClaimMeeting(t.Context(), meeting("m"+strconv.Itoa(i%ids), "s"+strconv.Itoa(i), base), "")
			})
			wins := map[string]int{}
			for _, r := range results {
				if r.stored {
					wins[r.m.ID]++
				}
			}
			for i := range ids {
				id := "m" + strconv.Itoa(i)
				if wins[id] != 1 {
					t.Errorf("winners for %s: got %d, want 1", id, wins[id])
				}
			}
		}},
	}
}

func (s suite) putMeeting() []testCase {
	return []testCase{
		{"overwrites", func(t *testing.T) {
			st := s.newStore(t)
			mustPutMeeting(t, st, meeting("m", "s1", base))
			want := tinyscale.Meeting{ID: "m", ServerID: "s2", InternalID: "abc-123", CreatedAt: base.Add(time.Second)}
			mustPutMeeting(t, st, want)
			if got := mustMeeting(t, st, "m"); !sameMeeting(got, want) {
				t.Errorf("Meeting: got %+v, want %+v", got, want)
			}
			if got := mustMeetings(t, st); len(got) != 1 {
				t.Errorf("Meetings: got %d meetings, want 1", len(got))
			}
		}},
		{"then_claim_sees_it", func(t *testing.T) {
			st := s.newStore(t)
			want := meeting("m", "learned", base)
			mustPutMeeting(t, st, want)
			got := mustClaim(t, st, meeting("m", "other", base), "", false)
			if !sameMeeting(got, want) {
				t.Errorf("ClaimMeeting after PutMeeting: got %+v, want %+v", got, want)
			}
		}},
		{"empty_ID_rejected", func(t *testing.T) {
			st := s.newStore(t)
			checkInvalid(t, "PutMeeting", st.PutMeeting(t.Context(), meeting("", "s1", base)))
		}},
	}
}

func (s suite) deleteMeeting() []testCase {
	tests := []struct {
		name       string
		serverID   string
		wantErr    error
		wantStored bool
	}{
		{name: "any_server", serverID: "", wantErr: nil, wantStored: false},
		{name: "matching_server", serverID: "s1", wantErr: nil, wantStored: false},
		{name: "other_server_ErrNotFound", serverID: "s2", wantErr: tinyscale.ErrNotFound, wantStored: true},
	}
	var cases []testCase
	for _, tt := range tests {
		cases = append(cases, testCase{tt.name, func(t *testing.T) {
			st := s.newStore(t)
			m := meeting("m", "s1", base)
			mustPutMeeting(t, st, m)
			mustPutMeeting(t, st, meeting("other", "s1", base))
			err := st.DeleteMeeting(t.Context(), "m", tt.serverID)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("DeleteMeeting(m, %q): got %v, want %v", tt.serverID, err, tt.wantErr)
			}
			_, err = st.Meeting(t.Context(), "m")
			if gotStored := err == nil; gotStored != tt.wantStored {
				t.Errorf("meeting stored after DeleteMeeting: got %v (err %v), want %v", gotStored, err, tt.wantStored)
			}
			if _, err := st.Meeting(t.Context(), "other"); err != nil {
				t.Errorf("Meeting(other): got error %v, want nil (untouched)", err)
			}
			since := mustMeetingsSince(t, st, base)
			if got, want := len(since), map[bool]int{true: 2, false: 1}[tt.wantStored]; got != want {
				t.Errorf("MeetingsSince after DeleteMeeting: got %d meetings, want %d", got, want)
			}
		}})
	}
	cases = append(cases,
		testCase{"unknown_ErrNotFound", func(t *testing.T) {
			st := s.newStore(t)
			for _, serverID := range []string{"", "s1"} {
				if err := st.DeleteMeeting(t.Context(), "nope", serverID); !errors.Is(err, tinyscale.ErrNotFound) {
					t.Errorf("DeleteMeeting(nope, %q): got %v, want ErrNotFound", serverID, err)
				}
			}
		}},
		testCase{"then_claim_wins", func(t *testing.T) {
			st := s.newStore(t)
			mustClaim(t, st, meeting("m", "s1", base), "", true)
			if err := st.DeleteMeeting(t.Context(), "m", "s1"); err != nil {
				t.Fatalf("DeleteMeeting: got error %v, want nil", err)
			}
			mustClaim(t, st, meeting("m", "s2", base), "", true)
		}},
	)
	return cases
}

func (s suite) meetings() []testCase {
	return []testCase{
		{"empty", func(t *testing.T) {
			st := s.newStore(t)
			if got := mustMeetings(t, st); len(got) != 0 {
				t.Errorf("Meetings: got %d, want 0", len(got))
			}
		}},
		{"all", func(t *testing.T) {
			st := s.newStore(t)
			want := map[string]tinyscale.Meeting{}
			for i := range 50 {
				m := meeting("m"+strconv.Itoa(i), "s"+strconv.Itoa(i%3), base.Add(time.Duration(i)*time.Minute))
				want[m.ID] = m
				mustPutMeeting(t, st, m)
			}
			got := mustMeetings(t, st)
			if len(got) != len(want) {
				t.Fatalf("Meetings: got %d meetings, want %d", len(got), len(want))
			}
			for _, m := range got {
				if w, ok := want[m.ID]; !ok || !sameMeeting(m, w) {
					t.Errorf("Meetings: got %+v, want %+v", m, w)
				}
			}
		}},
	}
}

func (s suite) meetingsSince() []testCase {
	// Meetings one nanosecond apart around the boundary, plus far-away ones.
	stored := []tinyscale.Meeting{
		meeting("zero", "s", time.Time{}),
		meeting("1970", "s", time.Unix(0, 0).UTC()),
		meeting("before_1ns", "s", base.Add(-time.Nanosecond)),
		meeting("at", "s", base),
		meeting("at_other_zone", "s", base.In(time.FixedZone("UTC-7", -7*3600))),
		meeting("after_1ns", "s", base.Add(time.Nanosecond)),
		meeting("after_1us", "s", base.Add(time.Microsecond)),
		meeting("year_2200", "s", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	tests := []struct {
		name  string
		since time.Time
		want  []string
	}{
		{name: "zero_time_returns_all", since: time.Time{}, want: []string{"1970", "after_1ns", "after_1us", "at", "at_other_zone", "before_1ns", "year_2200", "zero"}},
		{name: "boundary_inclusive", since: base, want: []string{"after_1ns", "after_1us", "at", "at_other_zone", "year_2200"}},
		{name: "boundary_in_other_zone", since: base.In(time.FixedZone("UTC+9", 9*3600)), want: []string{"after_1ns", "after_1us", "at", "at_other_zone", "year_2200"}},
		{name: "one_ns_later", since: base.Add(time.Nanosecond), want: []string{"after_1ns", "after_1us", "year_2200"}},
		{name: "one_ns_earlier", since: base.Add(-time.Nanosecond), want: []string{"after_1ns", "after_1us", "at", "at_other_zone", "before_1ns", "year_2200"}},
		{name: "between_ns_and_us", since: base.Add(2 * time.Nanosecond), want: []string{"after_1us", "year_2200"}},
		{name: "future_returns_none", since: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), want: nil},
		{name: "before_1970", since: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), want: []string{"1970", "after_1ns", "after_1us", "at", "at_other_zone", "before_1ns", "year_2200"}},
	}
	return []testCase{
		{"boundaries", func(t *testing.T) {
			st := s.newStore(t)
			for _, m := range stored {
				mustPutMeeting(t, st, m)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got := meetingIDs(mustMeetingsSince(t, st, tt.since))
					if !slices.Equal(got, tt.want) {
						t.Errorf("MeetingsSince(%v): got %q, want %q", tt.since, got, tt.want)
					}
				})
			}
		}},
		{"index_follows_updates", func(t *testing.T) {
			st := s.newStore(t)
			t1, t2, t3 := base, base.Add(time.Hour), base.Add(2*time.Hour)
			mustPutMeeting(t, st, meeting("m", "s1", t1))
			mustPutMeeting(t, st, meeting("m", "s1", t3)) // moved forward
			if got := meetingIDs(mustMeetingsSince(t, st, t2)); !slices.Equal(got, []string{"m"}) {
				t.Errorf("after moving forward, MeetingsSince(t2): got %q, want [m]", got)
			}
			mustPutMeeting(t, st, meeting("m", "s1", t1)) // moved back
			if got := meetingIDs(mustMeetingsSince(t, st, t2)); len(got) != 0 {
				t.Errorf("after moving back, MeetingsSince(t2): got %q, want none", got)
			}
			if got := meetingIDs(mustMeetingsSince(t, st, t1)); !slices.Equal(got, []string{"m"}) {
				t.Errorf("after moving back, MeetingsSince(t1): got %q, want [m] once", got)
			}
			mustClaim(t, st, meeting("m", "s2", t3), "s1", true) // failover moves it
			if got := meetingIDs(mustMeetingsSince(t, st, t2)); !slices.Equal(got, []string{"m"}) {
				t.Errorf("after failover, MeetingsSince(t2): got %q, want [m]", got)
			}
			if err := st.DeleteMeeting(t.Context(), "m", ""); err != nil {
				t.Fatalf("DeleteMeeting: got error %v, want nil", err)
			}
			if got := meetingIDs(mustMeetingsSince(t, st, time.Time{})); len(got) != 0 {
				t.Errorf("after delete, MeetingsSince(zero): got %q, want none", got)
			}
		}},
		{"same_instant_many_meetings", func(t *testing.T) {
			st := s.newStore(t)
			var want []string
			for i := range 20 {
				id := fmt.Sprintf("m%02d", i)
				want = append(want, id)
				mustPutMeeting(t, st, meeting(id, "s", base))
			}
			if got := meetingIDs(mustMeetingsSince(t, st, base)); !slices.Equal(got, want) {
				t.Errorf("MeetingsSince(base): got %q, want %q", got, want)
			}
		}},
	}
}

func (s suite) health() []testCase {
	return []testCase{
		{"empty", func(t *testing.T) {
			st := s.newStore(t)
			got, err := st.Health(t.Context())
			if err != nil || len(got) != 0 {
				t.Errorf("Health: got (%v, %v), want (none, nil)", got, err)
			}
		}},
		{"put_and_replace", func(t *testing.T) {
			st := s.newStore(t)
			a1 := tinyscale.Health{ServerID: "a", Up: true, Meetings: 3, Participants: 40, CheckedAt: base, Successes: 5}
			b1 := tinyscale.Health{ServerID: "b", Up: false, LastError: "connection refused", CheckedAt: base, Fails: 2}
			if err := st.PutHealth(t.Context(), a1, b1); err != nil {
				t.Fatalf("PutHealth: got error %v, want nil", err)
			}
			a2 := tinyscale.Health{ServerID: "a", Up: false, LastError: "timeout", CheckedAt: base.Add(time.Second), Fails: 1}
			if err := st.PutHealth(t.Context(), a2); err != nil {
				t.Fatalf("PutHealth: got error %v, want nil", err)
			}
			if err := st.PutHealth(t.Context()); err != nil {
				t.Fatalf("PutHealth(): got error %v, want nil", err)
			}
			got, err := st.Health(t.Context())
			if err != nil {
				t.Fatalf("Health: got error %v, want nil", err)
			}
			slices.SortFunc(got, func(x, y tinyscale.Health) int { return cmpString(x.ServerID, y.ServerID) })
			want := []tinyscale.Health{a2, b1}
			if !reflect.DeepEqual(normHealth(got), normHealth(want)) {
				t.Errorf("Health: got %+v, want %+v", got, want)
			}
		}},
		{"empty_ServerID_rejected", func(t *testing.T) {
			st := s.newStore(t)
			checkInvalid(t, "PutHealth", st.PutHealth(t.Context(), tinyscale.Health{Up: true}))
		}},
	}
}

func (s suite) hooks() []testCase {
	return []testCase{
		{"crud", func(t *testing.T) {
			st := s.newStore(t)
			h1 := tinyscale.Hook{ID: "1", CallbackURL: "https://app.example/cb?x=1&y=2", CreatedAt: base}
			h2 := tinyscale.Hook{ID: "2", CallbackURL: "https://app.example/other", MeetingID: "m", EventID: "meeting-created,user-joined", Raw: true,
				Backends: map[string]string{"s1": "7", "s2": "11"}, CreatedAt: base.Add(time.Minute)}
			for _, h := range []tinyscale.Hook{h2, h1} {
				if err := st.PutHook(t.Context(), h); err != nil {
					t.Fatalf("PutHook(%s): got error %v, want nil", h.ID, err)
				}
			}
			got, err := st.Hook(t.Context(), "2")
			if err != nil || !reflect.DeepEqual(normHook(got), normHook(h2)) {
				t.Errorf("Hook(2): got (%+v, %v), want (%+v, nil)", got, err, h2)
			}
			all, err := st.Hooks(t.Context())
			if err != nil {
				t.Fatalf("Hooks: got error %v, want nil", err)
			}
			if ids := hookIDs(all); !slices.Equal(ids, []string{"1", "2"}) {
				t.Errorf("Hooks IDs: got %q, want [1 2]", ids)
			}
			h2.Backends = map[string]string{"s1": "8"}
			if err := st.PutHook(t.Context(), h2); err != nil {
				t.Fatalf("PutHook(replace): got error %v, want nil", err)
			}
			if got, _ := st.Hook(t.Context(), "2"); !reflect.DeepEqual(got.Backends, h2.Backends) {
				t.Errorf("Hook(2).Backends after replace: got %v, want %v", got.Backends, h2.Backends)
			}
			if err := st.DeleteHook(t.Context(), "1"); err != nil {
				t.Fatalf("DeleteHook(1): got error %v, want nil", err)
			}
			if _, err := st.Hook(t.Context(), "1"); !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("Hook(1) after delete: got %v, want ErrNotFound", err)
			}
			if all, _ := st.Hooks(t.Context()); !slices.Equal(hookIDs(all), []string{"2"}) {
				t.Errorf("Hooks IDs after delete: got %q, want [2]", hookIDs(all))
			}
		}},
		{"unknown_ErrNotFound", func(t *testing.T) {
			st := s.newStore(t)
			if _, err := st.Hook(t.Context(), "42"); !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("Hook(42): got %v, want ErrNotFound", err)
			}
			if err := st.DeleteHook(t.Context(), "42"); !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("DeleteHook(42): got %v, want ErrNotFound", err)
			}
		}},
		{"empty_list", func(t *testing.T) {
			st := s.newStore(t)
			got, err := st.Hooks(t.Context())
			if err != nil || len(got) != 0 {
				t.Errorf("Hooks: got (%v, %v), want (none, nil)", got, err)
			}
		}},
		{"empty_ID_rejected", func(t *testing.T) {
			st := s.newStore(t)
			checkInvalid(t, "PutHook", st.PutHook(t.Context(), tinyscale.Hook{CallbackURL: "https://x/"}))
		}},
	}
}

func (s suite) nextHookID() []testCase {
	return []testCase{
		{"monotonic_positive", func(t *testing.T) {
			st := s.newStore(t)
			var prev int64
			for i := range 20 {
				id, err := st.NextHookID(t.Context())
				if err != nil {
					t.Fatalf("NextHookID #%d: got error %v, want nil", i, err)
				}
				if id <= 0 || id <= prev {
					t.Fatalf("NextHookID #%d: got %d, want a positive number above %d", i, id, prev)
				}
				prev = id
			}
		}},
		{"concurrent_unique", func(t *testing.T) {
			st := s.newStore(t)
			ids := make([]int64, Concurrency)
			errs := make([]error, Concurrency)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range Concurrency {
				wg.Go(func() {
					<-start
					ids[i], errs[i] = st.NextHookID(t.Context())
				})
			}
			close(start)
			wg.Wait()
			seen := map[int64]bool{}
			for i, id := range ids {
				if errs[i] != nil {
					t.Fatalf("NextHookID: got error %v, want nil", errs[i])
				}
				if id <= 0 || seen[id] {
					t.Errorf("NextHookID: got %d, want a positive unused number", id)
				}
				seen[id] = true
			}
			if len(seen) != Concurrency {
				t.Errorf("distinct hook IDs: got %d, want %d", len(seen), Concurrency)
			}
		}},
	}
}

func (s suite) recordings() []testCase {
	return []testCase{
		{"put_and_get", func(t *testing.T) {
			st := s.newStore(t)
			if err := st.PutRecordings(t.Context(), map[string]string{"r1": "s1", "r2": "s2"}); err != nil {
				t.Fatalf("PutRecordings: got error %v, want nil", err)
			}
			if err := st.PutRecordings(t.Context(), map[string]string{"r2": "s3"}); err != nil {
				t.Fatalf("PutRecordings: got error %v, want nil", err)
			}
			if err := st.PutRecordings(t.Context(), nil); err != nil {
				t.Fatalf("PutRecordings(nil): got error %v, want nil", err)
			}
			for rec, want := range map[string]string{"r1": "s1", "r2": "s3"} {
				got, err := st.RecordingServer(t.Context(), rec)
				if err != nil || got != want {
					t.Errorf("RecordingServer(%s): got (%q, %v), want (%q, nil)", rec, got, err, want)
				}
			}
		}},
		{"unknown_ErrNotFound", func(t *testing.T) {
			st := s.newStore(t)
			if _, err := st.RecordingServer(t.Context(), "nope"); !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("RecordingServer(nope): got %v, want ErrNotFound", err)
			}
		}},
		{"empty_recordID_rejected", func(t *testing.T) {
			st := s.newStore(t)
			checkInvalid(t, "PutRecordings", st.PutRecordings(t.Context(), map[string]string{"": "s1"}))
		}},
	}
}

func (s suite) once() []testCase {
	return []testCase{
		{"first_true_then_false", func(t *testing.T) {
			st := s.newStore(t)
			for i, want := range []bool{true, false, false} {
				got, err := st.Once(t.Context(), "cb:1", time.Hour)
				if err != nil || got != want {
					t.Errorf("Once call %d: got (%v, %v), want (%v, nil)", i+1, got, err, want)
				}
			}
		}},
		{"independent_keys", func(t *testing.T) {
			st := s.newStore(t)
			for _, key := range []string{"a", "b", "a:b", "A"} {
				got, err := st.Once(t.Context(), key, time.Hour)
				if err != nil || !got {
					t.Errorf("Once(%q): got (%v, %v), want (true, nil)", key, got, err)
				}
			}
		}},
		{"true_again_after_ttl", func(t *testing.T) {
			st := s.newStore(t)
			if got, err := st.Once(t.Context(), "k", 50*time.Millisecond); err != nil || !got {
				t.Fatalf("first Once: got (%v, %v), want (true, nil)", got, err)
			}
			eventually(t, func() (bool, error) { return st.Once(t.Context(), "k", time.Hour) })
			if got, err := st.Once(t.Context(), "k", time.Hour); err != nil || got {
				t.Errorf("Once right after re-arming: got (%v, %v), want (false, nil)", got, err)
			}
		}},
		{"concurrent_one_true", func(t *testing.T) {
			st := s.newStore(t)
			results := concurrently(t, Concurrency, func(int) (tinyscale.Meeting, bool, error) {
				ok, err := st.Once(t.Context(), "k", time.Hour)
				return tinyscale.Meeting{}, ok, err
			})
			trues := 0
			for _, r := range results {
				if r.stored {
					trues++
				}
			}
			if trues != 1 {
				t.Errorf("Once returning true: got %d times, want 1", trues)
			}
		}},
		{"invalid_arguments_rejected", func(t *testing.T) {
			st := s.newStore(t)
			_, err := st.Once(t.Context(), "", time.Hour)
			checkInvalid(t, "Once(empty key)", err)
			_, err = st.Once(t.Context(), "k", 0)
			checkInvalid(t, "Once(zero ttl)", err)
		}},
	}
}

func (s suite) acquireLease() []testCase {
	acquire := func(t *testing.T, st tinyscale.Store, name, holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := st.AcquireLease(t.Context(), name, holder, ttl)
		if err != nil || got != want {
			t.Errorf("AcquireLease(%s, %s): got (%v, %v), want (%v, nil)", name, holder, got, err, want)
		}
	}
	return []testCase{
		{"holder_keeps_other_waits", func(t *testing.T) {
			st := s.newStore(t)
			acquire(t, st, "poller", "A", time.Hour, true)
			acquire(t, st, "poller", "B", time.Hour, false)
			acquire(t, st, "poller", "A", time.Hour, true) // renew
			acquire(t, st, "poller", "B", time.Hour, false)
		}},
		{"independent_names", func(t *testing.T) {
			st := s.newStore(t)
			acquire(t, st, "poller", "A", time.Hour, true)
			acquire(t, st, "sweeper", "B", time.Hour, true)
		}},
		{"other_takes_over_after_expiry", func(t *testing.T) {
			st := s.newStore(t)
			acquire(t, st, "poller", "A", 50*time.Millisecond, true)
			eventually(t, func() (bool, error) { return st.AcquireLease(t.Context(), "poller", "B", time.Hour) })
			acquire(t, st, "poller", "A", time.Hour, false)
			acquire(t, st, "poller", "B", time.Hour, true)
		}},
		{"renew_extends", func(t *testing.T) {
			st := s.newStore(t)
			acquire(t, st, "poller", "A", 50*time.Millisecond, true)
			acquire(t, st, "poller", "A", time.Hour, true)
			// Had the renewal not extended the lease, B would get it within
			// 50ms; B polling for a while must keep failing.
			deadline := time.Now().Add(200 * time.Millisecond)
			for time.Now().Before(deadline) {
				got, err := st.AcquireLease(t.Context(), "poller", "B", time.Hour)
				if err != nil || got {
					t.Fatalf("AcquireLease(B) while A's renewed lease is valid: got (%v, %v), want (false, nil)", got, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}},
		{"concurrent_one_holder", func(t *testing.T) {
			st := s.newStore(t)
			results := concurrently(t, Concurrency, func(i int) (tinyscale.Meeting, bool, error) {
				ok, err := st.AcquireLease(t.Context(), "poller", "h"+strconv.Itoa(i), time.Hour)
				return tinyscale.Meeting{}, ok, err
			})
			holders := 0
			for _, r := range results {
				if r.stored {
					holders++
				}
			}
			if holders != 1 {
				t.Errorf("AcquireLease winners: got %d, want 1", holders)
			}
		}},
		{"invalid_arguments_rejected", func(t *testing.T) {
			st := s.newStore(t)
			_, err := st.AcquireLease(t.Context(), "", "A", time.Hour)
			checkInvalid(t, "AcquireLease(empty name)", err)
			_, err = st.AcquireLease(t.Context(), "poller", "", time.Hour)
			checkInvalid(t, "AcquireLease(empty holder)", err)
			_, err = st.AcquireLease(t.Context(), "poller", "A", -time.Second)
			checkInvalid(t, "AcquireLease(negative ttl)", err)
		}},
	}
}

func (s suite) ping() []testCase {
	return []testCase{
		{"open_store", func(t *testing.T) {
			st := s.newStore(t)
			if err := st.Ping(t.Context()); err != nil {
				t.Errorf("Ping: got %v, want nil", err)
			}
		}},
	}
}

func (s suite) context() []testCase {
	return []testCase{
		{"canceled_returns_error", func(t *testing.T) {
			st := s.newStore(t)
			mustPutMeeting(t, st, meeting("m", "s1", base))
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := st.Meeting(ctx, "m")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Meeting(canceled ctx): got %v, want an error wrapping context.Canceled", err)
			}
			if errors.Is(err, tinyscale.ErrStoreUnavailable) {
				t.Errorf("Meeting(canceled ctx): got %v, want no ErrStoreUnavailable: the caller gave up, the store did not fail", err)
			}
			_, _, err = st.ClaimMeeting(ctx, meeting("n", "s1", base), "")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("ClaimMeeting(canceled ctx): got %v, want an error wrapping context.Canceled", err)
			}
		}},
	}
}

func (s suite) close() []testCase {
	return []testCase{
		{"then_calls_fail_unavailable", func(t *testing.T) {
			st := s.newStore(t)
			mustPutMeeting(t, st, meeting("m", "s1", base))
			if err := st.Close(); err != nil {
				t.Fatalf("Close: got %v, want nil", err)
			}
			_, err := st.Meeting(t.Context(), "m")
			if !errors.Is(err, tinyscale.ErrStoreUnavailable) {
				t.Errorf("Meeting after Close: got %v, want ErrStoreUnavailable", err)
			}
			if err := st.Ping(t.Context()); !errors.Is(err, tinyscale.ErrStoreUnavailable) {
				t.Errorf("Ping after Close: got %v, want ErrStoreUnavailable", err)
			}
			_, _, err = st.ClaimMeeting(t.Context(), meeting("n", "s1", base), "")
			if !errors.Is(err, tinyscale.ErrStoreUnavailable) {
				t.Errorf("ClaimMeeting after Close: got %v, want ErrStoreUnavailable", err)
			}
		}},
		{"twice", func(t *testing.T) {
			st := s.newStore(t)
			if err := st.Close(); err != nil {
				t.Fatalf("first Close: got %v, want nil", err)
			}
			if err := st.Close(); err != nil {
				t.Errorf("second Close: got %v, want nil", err)
			}
		}},
	}
}

func reopenCases(prepare func(t *testing.T) func() tinyscale.Store) []testCase {
	return []testCase{
		{"keeps_data", func(t *testing.T) {
			open := prepare(t)
			ctx := t.Context()
			st := open()
			srv := tinyscale.Server{ID: "a", URL: "https://a/bigbluebutton/api/", Secret: "x", Weight: 1, Tags: []string{"t"}, State: tinyscale.StateEnabled, Algorithm: "sha256"}
			mustPutServer(t, st, srv)
			m := tinyscale.Meeting{ID: "m", ServerID: "a", InternalID: "i-1", CreatedAt: base}
			mustClaim(t, st, m, "", true)
			h := tinyscale.Health{ServerID: "a", Up: true, Meetings: 1, CheckedAt: base}
			if err := st.PutHealth(ctx, h); err != nil {
				t.Fatalf("PutHealth: %v", err)
			}
			hook := tinyscale.Hook{ID: "1", CallbackURL: "https://cb/", Backends: map[string]string{"a": "3"}, CreatedAt: base}
			if err := st.PutHook(ctx, hook); err != nil {
				t.Fatalf("PutHook: %v", err)
			}
			lastHookID, err := st.NextHookID(ctx)
			if err != nil {
				t.Fatalf("NextHookID: %v", err)
			}
			if err := st.PutRecordings(ctx, map[string]string{"r": "a"}); err != nil {
				t.Fatalf("PutRecordings: %v", err)
			}
			if ok, err := st.Once(ctx, "k", time.Hour); err != nil || !ok {
				t.Fatalf("Once: got (%v, %v), want (true, nil)", ok, err)
			}
			if ok, err := st.AcquireLease(ctx, "l", "A", time.Hour); err != nil || !ok {
				t.Fatalf("AcquireLease: got (%v, %v), want (true, nil)", ok, err)
			}
			if err := st.Close(); err != nil {
				t.Fatalf("Close: got %v, want nil", err)
			}

			st = open()
			defer st.Close()
			if got := mustServers(t, st); len(got) != 1 || !reflect.DeepEqual(got[0], srv) {
				t.Errorf("Servers after reopen: got %+v, want [%+v]", got, srv)
			}
			if got := mustMeeting(t, st, "m"); !sameMeeting(got, m) {
				t.Errorf("Meeting after reopen: got %+v, want %+v", got, m)
			}
			if got := meetingIDs(mustMeetingsSince(t, st, base)); !slices.Equal(got, []string{"m"}) {
				t.Errorf("MeetingsSince after reopen: got %q, want [m]", got)
			}
			mustClaim(t, st, meeting("m", "b", base), "", false)
			if got, err := st.Health(ctx); err != nil || len(got) != 1 || !reflect.DeepEqual(normHealth(got), normHealth([]tinyscale.Health{h})) {
				t.Errorf("Health after reopen: got (%+v, %v), want [%+v]", got, err, h)
			}
			if got, err := st.Hook(ctx, "1"); err != nil || !reflect.DeepEqual(normHook(got), normHook(hook)) {
				t.Errorf("Hook after reopen: got (%+v, %v), want %+v", got, err, hook)
			}
			if id, err := st.NextHookID(ctx); err != nil || id <= lastHookID {
				t.Errorf("NextHookID after reopen: got (%d, %v), want above %d", id, err, lastHookID)
			}
			if got, err := st.RecordingServer(ctx, "r"); err != nil || got != "a" {
				t.Errorf("RecordingServer after reopen: got (%q, %v), want (a, nil)", got, err)
			}
			if ok, err := st.Once(ctx, "k", time.Hour); err != nil || ok {
				t.Errorf("Once after reopen: got (%v, %v), want (false, nil)", ok, err)
			}
			if ok, err := st.AcquireLease(ctx, "l", "B", time.Hour); err != nil || ok {
				t.Errorf("AcquireLease(B) after reopen: got (%v, %v), want (false, nil)", ok, err)
			}
		}},
	}
}

// claimResult is one concurrent call's outcome.
type claimResult struct {
	m      tinyscale.Meeting
	stored bool
	err    error
}

// concurrently runs n calls of fn at once (released together) and returns
// their results in call order.
func concurrently(t *testing.T, n int, fn func(i int) (tinyscale.Meeting, bool, error)) []claimResult {
	t.Helper()
	results := make([]claimResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			m, ok, err := fn(i)
			results[i] = claimResult{m, ok, err}
		})
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("concurrent call %d: got error %v, want nil", i, r.err)
		}
	}
	return results
}

// checkOneWinner checks that exactly one claim stored its meeting and that
// every caller was told the winner's server.
func checkOneWinner(t *testing.T, st tinyscale.Store, results []claimResult, replaced string) {
	t.Helper()
	var winners []tinyscale.Meeting
	for _, r := range results {
		if r.stored {
			winners = append(winners, r.m)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winners: got %d, want 1", len(winners))
	}
	w := winners[0]
	if w.ServerID == replaced {
		t.Errorf("winner's ServerID: got %q, want a new server", w.ServerID)
	}
	for i, r := range results {
		if r.m.ServerID != w.ServerID {
			t.Errorf("claim %d: got ServerID %q, want the winner's %q", i, r.m.ServerID, w.ServerID)
		}
	}
	if got := mustMeeting(t, st, "m"); !sameMeeting(got, w) {
		t.Errorf("stored meeting: got %+v, want the winner %+v", got, w)
	}
}

// eventually polls cond until it reports true, failing the test after a
// generous deadline. It is for conditions that flip after a short ttl.
func eventually(t *testing.T, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("poll: got error %v, want nil", err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition still false after 10s, want it to flip once the ttl has passed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkInvalid checks that a call with invalid arguments failed, and not as
// an outage.
func checkInvalid(t *testing.T, op string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s with invalid argument: got nil error, want an error", op)
		return
	}
	if errors.Is(err, tinyscale.ErrStoreUnavailable) {
		t.Errorf("%s with invalid argument: got %v, want an error not wrapping ErrStoreUnavailable", op, err)
	}
}

func meeting(id, serverID string, createdAt time.Time) tinyscale.Meeting {
	return tinyscale.Meeting{ID: id, ServerID: serverID, CreatedAt: createdAt}
}

// sameMeeting compares meetings, times by instant.
func sameMeeting(a, b tinyscale.Meeting) bool {
	return a.ID == b.ID && a.ServerID == b.ServerID && a.InternalID == b.InternalID && a.CreatedAt.Equal(b.CreatedAt)
}

func normHealth(hs []tinyscale.Health) []tinyscale.Health {
	out := slices.Clone(hs)
	for i := range out {
		out[i].CheckedAt = out[i].CheckedAt.UTC()
	}
	return out
}

func normHook(h tinyscale.Hook) tinyscale.Hook {
	h.CreatedAt = h.CreatedAt.UTC()
	if len(h.Backends) == 0 {
		h.Backends = nil
	} else {
		h.Backends = maps.Clone(h.Backends)
	}
	return h
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func serverIDs(ss []tinyscale.Server) []string {
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func hookIDs(hs []tinyscale.Hook) []string {
	var ids []string
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}

// meetingIDs returns the sorted IDs.
func meetingIDs(ms []tinyscale.Meeting) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return ids
}

func mustPutServer(t *testing.T, st tinyscale.Store, s tinyscale.Server) {
	t.Helper()
	if err := st.PutServer(t.Context(), s); err != nil {
		t.Fatalf("PutServer(%s): got error %v, want nil", s.ID, err)
	}
}

func mustServers(t *testing.T, st tinyscale.Store) []tinyscale.Server {
	t.Helper()
	ss, err := st.Servers(t.Context())
	if err != nil {
		t.Fatalf("Servers: got error %v, want nil", err)
	}
	return ss
}

func mustPutMeeting(t *testing.T, st tinyscale.Store, m tinyscale.Meeting) {
	t.Helper()
	if err := st.PutMeeting(t.Context(), m); err != nil {
		t.Fatalf("PutMeeting(%s): got error %v, want nil", m.ID, err)
	}
}

func mustMeeting(t *testing.T, st tinyscale.Store, id string) tinyscale.Meeting {
	t.Helper()
	m, err := st.Meeting(t.Context(), id)
	if err != nil {
		t.Fatalf("Meeting(%s): got error %v, want nil", id, err)
	}
	return m
}

func mustMeetings(t *testing.T, st tinyscale.Store) []tinyscale.Meeting {
	t.Helper()
	ms, err := st.Meetings(t.Context())
	if err != nil {
		t.Fatalf("Meetings: got error %v, want nil", err)
	}
	return ms
}

func mustMeetingsSince(t *testing.T, st tinyscale.Store, since time.Time) []tinyscale.Meeting {
	t.Helper()
	ms, err := st.MeetingsSince(t.Context(), since)
	if err != nil {
		t.Fatalf("MeetingsSince(%v): got error %v, want nil", since, err)
	}
	return ms
}

func mustClaim(t *testing.T, st tinyscale.Store, m tinyscale.Meeting, replace string, wantStored bool) tinyscale.Meeting {
	t.Helper()
	got, stored, err := st.ClaimMeeting(t.Context(), m, replace)
	if err != nil {
		t.Fatalf("ClaimMeeting(%s on %s, replace %q): got error %v, want nil", m.ID, m.ServerID, replace, err)
	}
	if stored != wantStored {
		t.Fatalf("ClaimMeeting(%s on %s, replace %q): got stored=%v, want %v", m.ID, m.ServerID, replace, stored, wantStored)
	}
	return got
}
