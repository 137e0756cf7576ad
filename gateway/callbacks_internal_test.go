package gateway

import (
	"bytes"
	"crypto/tls"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/store/bolt"
)

// newRelayGateway returns a Gateway over an empty bolt store, for white-box
// tests of the relay helpers.
func newRelayGateway(t testing.TB, publicURL string) *Gateway {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	g, err := New(Config{Secret: "front", Fleet: fleet.New(st, fleet.Options{}), Store: st, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestPublicBase(t *testing.T) {
	tests := []struct {
		name      string
		publicURL string
		host      string
		tls       bool
		header    map[string]string
		want      string
	}{
		{"config_wins", "https://lb.example.org/", "ignored:1", false, map[string]string{"X-Forwarded-Host": "x"}, "https://lb.example.org"},
		{"host", "", "lb.local:3005", false, nil, "http://lb.local:3005"},
		{"tls", "", "lb.local", true, nil, "https://lb.local"},
		{"forwarded", "", "10.0.0.1:3005", false, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bbb.example.org"}, "https://bbb.example.org"},
		{"forwarded_lists", "", "10.0.0.1", false, map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example.org, b"}, "https://a.example.org"},
		{"bad_proto_ignored", "", "h", false, map[string]string{"X-Forwarded-Proto": "javascript"}, "http://h"},
		{"bad_host_ignored", "", "h", false, map[string]string{"X-Forwarded-Host": "evil.example/path?"}, "http://h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRelayGateway(t, tt.publicURL)
			r := httptest.NewRequest(http.MethodGet, "/bigbluebutton/api/create", nil)
			r.Host = tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := g.publicBase(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRewriteCreate(t *testing.T) {
	g := newRelayGateway(t, "https://lb.example.org")
	b := &fleet.Backend{Server: tinyscale.Server{ID: "bbb7"}}
	tests := []struct {
		name      string
		query     string
		relayed   map[string]string // parameter name → original target (in order of appearance)
		endTarget string            // target carried by the meetingEndedURL relay
		kept      []string          // raw pairs that must appear unchanged
	}{
		{
			name:    "greenlight",
			query:   "meetingID=r1&name=Room+1&meta_bbb-recording-ready-url=https%3A%2F%2Fgl.example.org%2Frecording_ready&meta_endCallbackUrl=https%3A%2F%2Fgl.example.org%2Fmeeting_ended&meta_bbb-origin=greenlight",
			relayed: map[string]string{"meta_bbb-recording-ready-url": "https://gl.example.org/recording_ready"},
			kept:    []string{"meetingID=r1", "name=Room+1", "meta_endCallbackUrl=https%3A%2F%2Fgl.example.org%2Fmeeting_ended", "meta_bbb-origin=greenlight"},
		},
		{
			name:      "moodle_variants_and_ended",
			query:     "meetingID=m%201&meta_BN-Recording-Ready-Url=https%3A%2F%2Fmoodle.example%2Fbroker.php%3Fa%3D1&meta_analytics-callback-url=https%3A%2F%2Fmoodle.example%2Fev&meetingEndedURL=https%3A%2F%2Fmoodle.example%2Fended&meetingEndedURL=https%3A%2F%2Fsecond.example",
			relayed:   map[string]string{"meta_BN-Recording-Ready-Url": "https://moodle.example/broker.php?a=1", "meta_analytics-callback-url": "https://moodle.example/ev"},
			endTarget: "https://moodle.example/ended",
			kept:      []string{"meetingID=m%201"},
		},
		{
			name:  "not_a_url_left_alone",
			query: "meetingID=x&meta_bbb-recording-ready-url=not+a+url&meta_canvas-recording-ready-url=",
			kept:  []string{"meta_bbb-recording-ready-url=not+a+url", "meta_canvas-recording-ready-url="},
		},
		{
			name:  "checksum_dropped",
			query: "meetingID=x&checksum=abc",
			kept:  []string{"meetingID=x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/bigbluebutton/api/create?"+tt.query, nil)
			x := &exchange{r: r, req: &bbb.Request{RawQuery: tt.query, Params: bbb.ParseQuery(tt.query)}}
			got, err := g.rewriteCreate(r.Context(), x, bbb.ParseQuery(tt.query), b)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(got, "checksum=") {
				t.Errorf("forwarded query %q carries a checksum", got)
			}
			for _, k := range tt.kept {
				if !strings.Contains("&"+got+"&", "&"+k+"&") {
					t.Errorf("forwarded query %q lost %q", got, k)
				}
			}
			q := bbb.ParseQuery(got)
			meetingID := bbb.ParseQuery(tt.query).Get(bbb.ParamMeetingID)
			for name, target := range tt.relayed {
				v := q.Get(name)
				kind, tok, ok := callback.ParseURL(v)
				if !ok || !strings.HasPrefix(v, "https://lb.example.org"+callback.PathPrefix) {
					t.Fatalf("%s = %q, want a relay URL", name, v)
				}
				c, err := g.relay().tokens.Parse(tok)
				if err != nil || c.Target != target || c.Kind != kind || c.ServerID != "bbb7" || c.MeetingID != meetingID {
					t.Errorf("%s token: got (%+v, %v), want target %q for bbb7/%s", name, c, err, target, meetingID)
				}
			}
			ended := 0
			for _, p := range q {
				if p.Name == bbb.ParamMeetingEndedURL {
					ended++
				}
			}
			if ended != 1 {
				t.Fatalf("got %d meetingEndedURL, want exactly 1 in %q", ended, got)
			}
			_, tok, ok := callback.ParseURL(q.Get(bbb.ParamMeetingEndedURL))
			if !ok {
				t.Fatalf("meetingEndedURL %q is not a relay URL", q.Get(bbb.ParamMeetingEndedURL))
			}
			c, err := g.relay().tokens.Parse(tok)
			if err != nil || c.Kind != callback.KindEnded || c.Target != tt.endTarget || c.MeetingID != meetingID {
				t.Errorf("ended token: got (%+v, %v), want target %q", c, err, tt.endTarget)
			}
		})
	}
}

func TestRestoreMetadata(t *testing.T) {
	g := newRelayGateway(t, "https://lb.example.org")
	issue := func(kind, target string) string {
		tok, err := g.relay().tokens.Issue(callback.Claims{Kind: kind, Target: target, MeetingID: "m", ServerID: "s"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return callback.URL("https://lb.example.org", kind, tok)
	}
	orig := "https://gl.example.org/recording_ready?a=1&b=2"
	ready := issue(callback.KindRecordingReady, orig)
	analytics := issue(callback.KindAnalytics, "https://m.example/ev")
	ended := issue(callback.KindEnded, "https://m.example/ended")
	other := callback.NewTokens("someone-else", nil)
	foreignTok, _ := other.Issue(callback.Claims{Kind: callback.KindRecordingReady, Target: "https://evil.example", ServerID: "s"}, 0)
	foreign := callback.URL("https://lb.example.org", callback.KindRecordingReady, foreignTok)

	tests := []struct {
		name, in, want string
		same           bool // the very same slice must come back
	}{
		{"no_relay", "<response><metadata><a>b</a></metadata></response>", "<response><metadata><a>b</a></metadata></response>", true},
		{"recording_ready", "<meeting><metadata><bbb-recording-ready-url>" + ready + "</bbb-recording-ready-url><x>1</x></metadata></meeting>",
			"<meeting><metadata><bbb-recording-ready-url>" + bbb.Escape(orig) + "</bbb-recording-ready-url><x>1</x></metadata></meeting>", false},
		{"analytics", "<r><metadata><analytics-callback-url>" + analytics + "</analytics-callback-url></metadata></r>",
			"<r><metadata><analytics-callback-url>https://m.example/ev</analytics-callback-url></metadata></r>", false},
		{"ended_not_metadata", "<r><metadata><x>" + ended + "</x></metadata></r>", "<r><metadata><x>" + ended + "</x></metadata></r>", false},
		{"foreign_token_untouched", "<r><metadata><bbb-recording-ready-url>" + foreign + "</bbb-recording-ready-url></metadata></r>",
			"<r><metadata><bbb-recording-ready-url>" + foreign + "</bbb-recording-ready-url></metadata></r>", false},
		{"outside_metadata_untouched", "<r><url>" + ready + "</url></r>", "<r><url>" + ready + "</url></r>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			got := g.restoreMetadata(in)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if tt.same && &got[0] != &in[0] {
				t.Errorf("got a copy, want the body itself when nothing changes")
			}
		})
	}
}

// FuzzRestoreMetadata checks that restoring metadata never panics, never
// changes a body without relay URLs, and keeps well-formed XML well-formed.
func FuzzRestoreMetadata(f *testing.F) {
	g := newRelayGateway(f, "https://lb.example.org")
	tok, _ := g.relay().tokens.Issue(callback.Claims{Kind: callback.KindRecordingReady, Target: "https://a.example/<&>", ServerID: "s"}, 0)
	u := callback.URL("https://lb.example.org", callback.KindRecordingReady, tok)
	f.Add([]byte("<response><metadata><bbb-recording-ready-url>" + u + "</bbb-recording-ready-url></metadata></response>"))
	f.Add([]byte("<metadata><k><![CDATA[" + u + "]]></k></metadata>"))
	f.Add([]byte("<metadata><k>/tinyscale/callback/recording-ready/x</k>"))
	f.Add([]byte("not xml /tinyscale/callback/"))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := g.restoreMetadata(body)
		if !bytes.Contains(body, []byte(callback.PathPrefix)) && !bytes.Equal(got, body) {
			t.Fatalf("body without relay URL changed")
		}
		if wellFormed(body) && !wellFormed(got) {
			t.Fatalf("well-formed %q became malformed %q", body, got)
		}
	})
}

func wellFormed(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}
