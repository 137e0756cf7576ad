package loadgen_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/loadgen"
)

const testSecret = "load-test-secret"

func TestRun_Scenarios(t *testing.T) {
	tests := []struct {
		scenario  string
		algorithm string
		wantCalls []string
	}{
		{loadgen.ScenarioJoin, "", []string{bbb.CallJoin}},
		{loadgen.ScenarioCreate, "sha256", []string{bbb.CallCreate}},
		{loadgen.ScenarioPoll, "sha384", []string{bbb.CallGetMeetingInfo, bbb.CallIsMeetingRunning}},
		{loadgen.ScenarioGetMeetings, "sha512", []string{bbb.CallGetMeetings}},
		{loadgen.ScenarioMixed, "sha1", []string{bbb.CallGetMeetingInfo, bbb.CallIsMeetingRunning, bbb.CallJoin, bbb.CallCreate, bbb.CallGetMeetings}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			fake := newFakeAPI(testSecret)
			srv := fake.start(t)
			const requests, meetings = 2000, 10
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				URL:         srv.URL, // without the API path
				Secret:      testSecret,
				Algorithm:   tt.algorithm,
				Scenario:    tt.scenario,
				Duration:    time.Minute, // the request count ends the run
				Requests:    requests,
				Concurrency: 8,
				Meetings:    meetings,
			})
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}
			if got, want := res.Requests, int64(requests); got != want {
				t.Errorf("got %d requests, want %d", got, want)
			}
			if res.Errors != 0 {
				t.Errorf("got %d errors %v, want 0", res.Errors, res.ErrorKinds)
			}
			if got, want := res.URL, srv.URL+"/bigbluebutton/api/"; got != want {
				t.Errorf("got URL %q, want %q", got, want)
			}
			if res.Throughput <= 0 || res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 || res.Latency.Max < res.Latency.P99 {
				t.Errorf("got throughput %v, latency %+v, want positive and ordered", res.Throughput, res.Latency)
			}
			var got []string
			var sum int64
			for _, c := range res.Calls {
				got = append(got, c.Call)
				sum += c.Requests
				// The server counted every request of the call (plus the
				// preflight isMeetingRunning and the setup creates).
				extra := 0
				switch c.Call {
				case bbb.CallIsMeetingRunning:
					extra = 1
				case bbb.CallCreate:
					extra = meetings
				}
				if n := fake.count(c.Call); int64(n) < c.Requests || int64(n) > c.Requests+int64(extra) {
					t.Errorf("server saw %d %s calls, want %d (+%d)", n, c.Call, c.Requests, extra)
				}
			}
			if !sameSet(got, tt.wantCalls) {
				t.Errorf("got calls %v, want %v", got, tt.wantCalls)
			}
			if sum != res.Requests {
				t.Errorf("calls add up to %d requests, want %d", sum, res.Requests)
			}
			if tt.scenario == loadgen.ScenarioMixed {
				for _, w := range loadgen.MixedWeights {
					share := 0.0
					for _, c := range res.Calls {
						if c.Call == w.Call {
							share = 100 * float64(c.Requests) / float64(res.Requests)
						}
					}
					if math.Abs(share-float64(w.Weight)) > 5 {
						t.Errorf("%s: got %.1f%% of requests, want %d%% ±5", w.Call, share, w.Weight)
					}
				}
			}
			if tt.scenario == loadgen.ScenarioCreate {
				if got, want := fake.numMeetings(), requests; got != want {
					t.Errorf("server has %d meetings, want %d (one per create)", got, want)
				}
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}

func TestRun_SetupCreatesMeetings(t *testing.T) {
	tests := []struct {
		name      string
		skipSetup bool
		wantNew   int
		wantError string
	}{
		{"setup", false, 25, ""},
		{"skip_setup", true, 0, "FAILED notFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeAPI(testSecret)
			srv := fake.start(t)
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				URL: srv.URL + "/bigbluebutton/api", Secret: testSecret, Scenario: loadgen.ScenarioJoin,
				Requests: 100, Concurrency: 4, Meetings: 25, SkipSetup: tt.skipSetup, MeetingPrefix: "room-",
			})
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}
			if got := fake.numMeetings(); got != tt.wantNew {
				t.Errorf("server has %d meetings, want %d", got, tt.wantNew)
			}
			if tt.wantError == "" && res.Errors != 0 {
				t.Errorf("got errors %v, want none", res.ErrorKinds)
			}
			if tt.wantError != "" && res.ErrorKinds[tt.wantError] != res.Requests {
				t.Errorf("got errors %v, want all %d %q", res.ErrorKinds, res.Requests, tt.wantError)
			}
		})
	}
}

func TestRun_CountsErrorsByKind(t *testing.T) {
	tests := []struct {
		name     string
		scenario string
		fail     func(w http.ResponseWriter, call string) bool
		want     string
	}{
		{"http_status", loadgen.ScenarioGetMeetings, func(w http.ResponseWriter, call string) bool {
			if call == bbb.CallGetMeetings {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		}, "http 502"},
		{"failed_key", loadgen.ScenarioCreate, func(w http.ResponseWriter, call string) bool {
			if call == bbb.CallCreate {
				bbb.WriteError(w, bbb.ErrNoServerAvailable)
				return true
			}
			return false
		}, "FAILED noAvailableServer"},
		{"bad_response", loadgen.ScenarioGetMeetings, func(w http.ResponseWriter, call string) bool {
			if call == bbb.CallGetMeetings {
				_, _ = w.Write([]byte("<html>maintenance</html>"))
				return true
			}
			return false
		}, loadgen.KindBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeAPI(testSecret)
			fake.fail = tt.fail
			srv := fake.start(t)
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				URL: srv.URL, Secret: testSecret, Scenario: tt.scenario, Requests: 50, Concurrency: 2,
			})
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}
			if got, want := res.ErrorKinds, map[string]int64{tt.want: 50}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got error kinds %v, want %v", got, want)
			}
			if got, want := res.Errors, int64(50); got != want {
				t.Errorf("got %d errors, want %d", got, want)
			}
		})
	}
}

func TestRun_FailsEarly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	fake := newFakeAPI(testSecret)
	srv := fake.start(t)
	failing := newFakeAPI(testSecret)
	failing.fail = func(w http.ResponseWriter, call string) bool {
		if call == bbb.CallCreate {
			bbb.WriteError(w, bbb.ErrNoServerAvailable)
			return true
		}
		return false
	}
	failingSrv := failing.start(t)

	tests := []struct {
		name string
		cfg  loadgen.Config
		want string
	}{
		{"wrong_secret", loadgen.Config{URL: srv.URL, Secret: "nope"}, "checksum"},
		{"unreachable", loadgen.Config{URL: closed, Secret: testSecret}, "connection refused"},
		{"setup_fails", loadgen.Config{URL: failingSrv.URL, Secret: testSecret, Scenario: loadgen.ScenarioPoll}, "setup: create meeting"},
		{"no_secret", loadgen.Config{URL: srv.URL}, "secret is required"},
		{"bad_url", loadgen.Config{URL: "ftp://x", Secret: "s"}, "scheme"},
		{"unknown_scenario", loadgen.Config{URL: srv.URL, Secret: "s", Scenario: "dance"}, "unknown scenario"},
		{"bad_algorithm", loadgen.Config{URL: srv.URL, Secret: "s", Algorithm: "md5"}, "algorithm"},
		{"negative_concurrency", loadgen.Config{URL: srv.URL, Secret: "s", Concurrency: -1}, "concurrency"},
		{"negative_rate", loadgen.Config{URL: srv.URL, Secret: "s", Rate: -1}, "rate"},
		{"comma_prefix", loadgen.Config{URL: srv.URL, Secret: "s", MeetingPrefix: "a,b"}, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Requests = 10
			res, err := loadgen.Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run() error = %v, want one containing %q", err, tt.want)
			}
			if res != nil {
				t.Errorf("Run() result = %+v, want nil", res)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestRun_Cancel(t *testing.T) {
	fake := newFakeAPI(testSecret)
	srv := fake.start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	res, err := loadgen.Run(ctx, loadgen.Config{
		URL: srv.URL, Secret: testSecret, Scenario: loadgen.ScenarioGetMeetings, Duration: time.Hour,
		Concurrency: 4, ProgressInterval: time.Millisecond,
		Progress: func(p loadgen.Progress) {
			if p.Requests > 0 {
				once.Do(cancel)
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() error = %v, want context.Canceled", err)
	}
	if res == nil || res.Requests == 0 {
		t.Fatalf("Run() result = %+v, want the requests made before the cancel", res)
	}
}

// handlerTransport answers requests in memory, so runs can use a fake clock.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestRun_Rate(t *testing.T) {
	tests := []struct {
		name        string
		rate        float64
		concurrency int
		duration    time.Duration
		want        int64
	}{
		{"50_per_s_4_workers", 50, 4, 2 * time.Second, 100},
		{"10_per_s_1_worker", 10, 1, 3 * time.Second, 30},
		{"200_per_s_16_workers", 200, 16, time.Second, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFakeAPI(testSecret)
				client := &http.Client{
					Transport:     handlerTransport{fake},
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				}
				var progress []loadgen.Progress
				res, err := loadgen.Run(context.Background(), loadgen.Config{
					URL: "http://fake.invalid", Secret: testSecret, Scenario: loadgen.ScenarioJoin,
					Rate: tt.rate, Concurrency: tt.concurrency, Duration: tt.duration, Meetings: 3, Client: client,
					ProgressInterval: 500 * time.Millisecond,
					Progress:         func(p loadgen.Progress) { progress = append(progress, p) },
				})
				if err != nil {
					t.Fatalf("Run() error: %v", err)
				}
				// Slots fall at 0, 1/rate, …; the one at exactly Duration
				// may or may not start. A burst of max(1, rate/100).
				if res.Requests < tt.want-1 || res.Requests > tt.want+1 {
					t.Errorf("got %d requests in %v at %v/s, want %d ±1", res.Requests, tt.duration, tt.rate, tt.want)
				}
				if got, want := len(progress), int(tt.duration/(500*time.Millisecond)); got < want-1 || got > want {
					t.Errorf("got %d progress reports, want %d or %d", got, want-1, want)
				}
				for i, p := range progress {
					if got, want := p.Elapsed, time.Duration(i+1)*500*time.Millisecond; got != want {
						t.Errorf("progress %d: got elapsed %v, want %v", i, got, want)
					}
					if i > 0 && p.Requests < progress[i-1].Requests {
						t.Errorf("progress %d: requests went down from %d to %d", i, progress[i-1].Requests, p.Requests)
					}
					if p.Rate < tt.rate*0.8 || p.Rate > tt.rate*1.2+4 {
						t.Errorf("progress %d: got rate %.1f, want about %v", i, p.Rate, tt.rate)
					}
				}
			})
		})
	}
}

func TestNormalizeURL(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"host_only", "http://127.0.0.1:3005", "http://127.0.0.1:3005/bigbluebutton/api/", ""},
		{"host_slash", "http://127.0.0.1:3005/", "http://127.0.0.1:3005/bigbluebutton/api/", ""},
		{"api_no_slash", "https://lb.example.org/bigbluebutton/api", "https://lb.example.org/bigbluebutton/api/", ""},
		{"api_slash", "https://lb.example.org/bigbluebutton/api/", "https://lb.example.org/bigbluebutton/api/", ""},
		{"api_double_slash", "https://lb.example.org/bigbluebutton/api//", "https://lb.example.org/bigbluebutton/api/", ""},
		{"prefix", "https://h.example.org/bbb", "https://h.example.org/bbb/bigbluebutton/api/", ""},
		{"prefix_api", "https://h.example.org/bbb/bigbluebutton/api/", "https://h.example.org/bbb/bigbluebutton/api/", ""},
		{"spaces", "  http://h  ", "http://h/bigbluebutton/api/", ""},
		{"no_scheme", "127.0.0.1:3005", "http://127.0.0.1:3005/bigbluebutton/api/", ""},
		{"no_scheme_name", "localhost", "http://localhost/bigbluebutton/api/", ""},
		{"ftp", "ftp://h/", "", "scheme"},
		{"query", "http://h/bigbluebutton/api/?x=1", "", "query"},
		{"fragment", "http://h/#x", "", "query or fragment"},
		{"userinfo", "http://u:p@h/", "", "want http"},
		{"empty", "", "", "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadgen.NormalizeURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NormalizeURL(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("NormalizeURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"http://h", "https://h/bigbluebutton/api/", "http://h/a%20b", "http://[::1]:80/x/", "http://h/?", "http://h/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := loadgen.NormalizeURL(in)
		if err != nil {
			return
		}
		if !strings.HasSuffix(got, "/bigbluebutton/api/") {
			t.Fatalf("NormalizeURL(%q) = %q: does not end in the API path", in, got)
		}
		again, err := loadgen.NormalizeURL(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeURL(%q) = %q, %v: not idempotent (first %q)", got, again, err, got)
		}
		// The signed URLs built from it must parse.
		if _, err := http.NewRequest(http.MethodGet, got+"join?x=1", nil); err != nil {
			t.Fatalf("NormalizeURL(%q) = %q: does not make a valid request URL: %v", in, got, err)
		}
	})
}

func TestRun_AgainstFakeBBB(t *testing.T) {
	for _, scenario := range loadgen.Scenarios {
		t.Run(scenario, func(t *testing.T) {
			fake := &fakebbb.Server{Secret: testSecret}
			srv := httptest.NewServer(fake)
			t.Cleanup(func() {
				srv.Close()
				fake.Close()
			})
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				URL: srv.URL, Secret: testSecret, Scenario: scenario, Algorithm: "sha256",
				Requests: 300, Concurrency: 4, Meetings: 5,
			})
			if err != nil {
				t.Fatalf("Run() error: %v", err)
			}
			if res.Requests != 300 || res.Errors != 0 {
				t.Errorf("got %d requests, errors %v; want 300 and none", res.Requests, res.ErrorKinds)
			}
			if scenario == loadgen.ScenarioJoin && fake.Calls(bbb.CallJoin) != 300 {
				t.Errorf("fakebbb counted %d joins, want 300", fake.Calls(bbb.CallJoin))
			}
		})
	}
}
