package loadgen_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// fakeAPI is a minimal BBB API for the load generator's tests: it verifies
// checksums, keeps meetings in a set and counts calls.
type fakeAPI struct {
	secret string
	// fail, if set, may answer a call itself (returns true).
	fail func(w http.ResponseWriter, call string) bool

	mu       sync.Mutex
	meetings map[string]bool
	calls    map[string]int
}

func newFakeAPI(secret string) *fakeAPI {
	return &fakeAPI{secret: secret, meetings: map[string]bool{}, calls: map[string]int{}}
}

// start serves f on an httptest server closed at the end of the test.
func (f *fakeAPI) start(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(f)
	tb.Cleanup(srv.Close)
	return srv
}

func (f *fakeAPI) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeAPI) numMeetings() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.meetings)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call, ok := bbb.CallFromPath(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.calls[call]++
	f.mu.Unlock()
	if f.fail != nil && f.fail(w, call) {
		return
	}
	if err := (bbb.Verifier{Secret: f.secret}).VerifyQuery(call, r.URL.RawQuery); err != nil {
		bbb.WriteError(w, bbb.ErrChecksum)
		return
	}
	id := r.URL.Query().Get("meetingID")
	f.mu.Lock()
	exists := f.meetings[id]
	if call == bbb.CallCreate {
		f.meetings[id] = true
	}
	n := len(f.meetings)
	f.mu.Unlock()
	switch call {
	case bbb.CallCreate:
		bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><meetingID>"+bbb.Escape(id)+"</meetingID></response>"))
	case bbb.CallJoin:
		if !exists {
			loc := "http://fake.invalid/?errors=" + url.QueryEscape(`[{"key":"notFound","message":"A meeting with that ID does not exist"}]`)
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Location", "http://fake.invalid/html5client/join?sessionToken=abc")
		w.WriteHeader(http.StatusFound)
	case bbb.CallGetMeetingInfo:
		if !exists {
			bbb.WriteError(w, bbb.ErrMeetingNotFound)
			return
		}
		bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><meetingID>"+bbb.Escape(id)+"</meetingID></response>"))
	case bbb.CallIsMeetingRunning:
		bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><running>false</running></response>"))
	case bbb.CallGetMeetings:
		if n == 0 {
			bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey></response>"))
			return
		}
		bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><meetings><meeting/></meetings></response>"))
	default:
		bbb.WriteError(w, bbb.ErrUnsupportedRequest)
	}
}
