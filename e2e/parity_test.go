package e2e_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tinyscale/tinyscale/bbb"
)

// receiver is a front end's callback endpoint: it verifies what it gets
// with the secret the front end knows — tinyscale's.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	ready    map[string]int // record_id → verified recording-ready callbacks
	rejected int
	events   []string // verified webhook bodies
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{ready: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		switch r.URL.Path {
		case "/recording-ready":
			form, _ := url.ParseQuery(string(body))
			tok, err := jwt.Parse(form.Get("signed_parameters"), func(*jwt.Token) (any, error) { return []byte(frontSecret), nil },
				jwt.WithValidMethods([]string{"HS256"}))
			if err != nil {
				rc.rejected++
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
			claims := tok.Claims.(jwt.MapClaims)
			rc.ready[fmt.Sprint(claims["record_id"])]++
		case "/hook":
			// checksum = sha1(callbackURL + body + secret), over the URL as
			// registered (without the checksum parameter).
			q := r.URL.Query()
			sum := q.Get("checksum")
			h := sha1.Sum([]byte(rc.URL + "/hook" + string(body) + frontSecret))
			if sum != hex.EncodeToString(h[:]) {
				rc.rejected++
				http.Error(w, "bad checksum", http.StatusUnauthorized)
				return
			}
			rc.events = append(rc.events, string(body))
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) snapshot() (ready map[string]int, rejected int, events []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ready = map[string]int{}
	for k, v := range rc.ready {
		ready[k] = v
	}
	return ready, rc.rejected, append([]string(nil), rc.events...)
}

// TestAPIParity checks recordings across servers, callbacks and webhooks
// with three fakebbb processes behind a tinyscale process.
func TestAPIParity(t *testing.T) {
	fakes := startFleet(t, 3, "--recording-delay", "50ms")
	g := startGateway(t, t.TempDir(), fakes, "TINYSCALE_STRATEGY=round-robin")
	rc := newReceiver(t)

	t.Run("recordings_of_every_server_paged", func(t *testing.T) {
		for i, f := range fakes {
			f.control(t, fmt.Sprintf("/fakebbb/recordings?meetingID=rec-room-%d&n=10", i))
		}
		seen := map[string]bool{}
		for off := 0; off < 30; off += 10 {
			st, body := g.call(t, bbb.SHA1, "getRecordings", fmt.Sprintf("offset=%d&limit=10", off))
			if st.ReturnCode != "SUCCESS" || !strings.Contains(body, "<totalElements>30</totalElements>") {
				t.Fatalf("page %d: %s", off, body)
			}
			recs, err := bbb.ParseRecordings([]byte(body))
			if err != nil || len(recs) != 10 {
				t.Fatalf("page %d: %d recordings, %v", off, len(recs), err)
			}
			for _, r := range recs {
				if seen[r.RecordID] {
					t.Errorf("recording %s on two pages", r.RecordID)
				}
				seen[r.RecordID] = true
			}
		}
		if len(seen) != 30 {
			t.Errorf("%d distinct recordings over the pages, want 30", len(seen))
		}
	})

	t.Run("publish_update_delete_on_every_server", func(t *testing.T) {
		for i := range fakes {
			_, body := g.call(t, bbb.SHA1, "getRecordings", fmt.Sprintf("meetingID=rec-room-%d", i))
			recs, _ := bbb.ParseRecordings([]byte(body))
			if len(recs) == 0 {
				t.Fatalf("no recordings for rec-room-%d", i)
			}
			id := recs[0].RecordID
			for _, step := range []struct{ call, query, want string }{
				{"publishRecordings", "recordID=" + id + "&publish=false", "<published>false</published>"},
				{"getRecordings", "recordID=" + id + "&state=any", "<state>unpublished</state>"},
				{"publishRecordings", "recordID=" + id + "&publish=true", "<published>true</published>"},
				{"updateRecordings", "recordID=" + id + "&meta_course=chemistry", "<updated>true</updated>"},
				{"getRecordings", "recordID=" + id, "<course>chemistry</course>"},
				{"deleteRecordings", "recordID=" + id, "<deleted>true</deleted>"},
				{"getRecordings", "recordID=" + id, "<messageKey>noRecordings</messageKey>"},
			} {
				_, body := g.call(t, bbb.SHA256, step.call, step.query)
				if !strings.Contains(body, step.want) {
					t.Errorf("server %d %s: got %s, want %s", i+1, step.call, body, step.want)
				}
			}
		}
	})

	t.Run("recording_ready_callback_verifiable_once", func(t *testing.T) {
		var ids []string
		for i := range 3 {
			id := fmt.Sprintf("cb-room-%d", i)
			ids = append(ids, id)
			q := "name=Callback+Room&meetingID=" + id + "&record=true&meta_bbb-recording-ready-url=" + url.QueryEscape(rc.URL+"/recording-ready")
			if st, body := g.call(t, bbb.SHA1, "create", q); st.ReturnCode != "SUCCESS" {
				t.Fatal(body)
			}
			resp, _ := get(t, signedURL(g.URL, g.Secret, bbb.SHA1, "join", "meetingID="+id+"&fullName=Rec&role=MODERATOR"))
			resp2, _ := get(t, resp.Header.Get("Location"))
			get(t, resp2.Header.Get("Location"))
			if st, body := g.call(t, bbb.SHA1, "end", "meetingID="+id); st.ReturnCode != "SUCCESS" {
				t.Fatal(body)
			}
		}
		var want []string
		for _, id := range ids {
			want = append(want, bbb.MeetingHash(id))
		}
		eventually(t, 30*time.Second, "three verified recording-ready callbacks", func() bool {
			ready, _, _ := rc.snapshot()
			n := 0
			for rid := range ready {
				for _, h := range want {
					if strings.HasPrefix(rid, h) {
						n++
					}
				}
			}
			return n == 3
		})
		ready, rejected, _ := rc.snapshot()
		for rid, n := range ready {
			if n != 1 {
				t.Errorf("recording %s delivered %d times", rid, n)
			}
		}
		if rejected != 0 {
			t.Errorf("the receiver rejected %d callbacks", rejected)
		}
	})

	t.Run("forged_callbacks_reach_nobody", func(t *testing.T) {
		before, _, _ := rc.snapshot()
		forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"meeting_id": "cb-room-0", "record_id": "x"})
		signed, _ := forged.SignedString([]byte("not-a-server-secret"))
		for _, path := range []string{
			"/tinyscale/callback/recording-ready/garbage",
			"/tinyscale/callback/recording-ready/eyJhbGciOiJIUzI1NiJ9.eyJ0Ijoi" + strings.Repeat("A", 20) + ".x",
			"/tinyscale/callback/analytics/garbage",
			"/tinyscale/callback/nope/x",
		} {
			resp, err := http.PostForm(g.URL+path, url.Values{"signed_parameters": {signed}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s: HTTP %d, want 4xx", path, resp.StatusCode)
			}
		}
		after, _, _ := rc.snapshot()
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("a forged callback was delivered: %v → %v", before, after)
		}
	})

	t.Run("hooks_deliver_events_from_every_server", func(t *testing.T) {
		st, body := g.call(t, bbb.SHA1, "hooks/create", "callbackURL="+url.QueryEscape(rc.URL+"/hook"))
		if st.ReturnCode != "SUCCESS" {
			t.Fatalf("hooks/create: %s", body)
		}
		if _, list := g.call(t, bbb.SHA1, "hooks/list", ""); !strings.Contains(list, rc.URL+"/hook") {
			t.Errorf("hooks/list does not show the hook: %s", list)
		}
		for i := range 3 {
			g.call(t, bbb.SHA1, "create", fmt.Sprintf("name=Hooked&meetingID=hooked-%d", i))
		}
		holders := map[int]bool{}
		for i := range 3 {
			holders[holderOf(t, fakes, fmt.Sprintf("hooked-%d", i))] = true
		}
		if len(holders) != 3 {
			t.Fatalf("round robin put the three meetings on %d servers", len(holders))
		}
		domain := regexp.MustCompile(`hooked-\d`)
		eventually(t, 30*time.Second, "meeting-created events from all three servers", func() bool {
			_, _, events := rc.snapshot()
			got := map[string]bool{}
			for _, e := range events {
				dec, _ := url.QueryUnescape(e)
				for _, m := range domain.FindAllString(dec, -1) {
					got[m] = true
				}
			}
			return len(got) == 3
		})
		if _, rejected, _ := rc.snapshot(); rejected != 0 {
			t.Errorf("the receiver rejected %d deliveries", rejected)
		}
	})
}
