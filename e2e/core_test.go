package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
)

// meetingsOn returns how many meetings each fake holds.
func meetingsOn(t testing.TB, fakes []*proc) []int {
	t.Helper()
	n := make([]int, len(fakes))
	for i, f := range fakes {
		n[i] = len(f.state(t).Meetings)
	}
	return n
}

// TestCoreGateway checks the core gateway's done-criteria with three
// fakebbb processes behind a tinyscale process.
func TestCoreGateway(t *testing.T) {
	fakes := startFleet(t, 3)
	g := startGateway(t, t.TempDir(), fakes, "TINYSCALE_STRATEGY=round-robin")

	t.Run("round_robin_99_creates_give_33_each", func(t *testing.T) {
		for i := range 99 {
			st, body := g.call(t, bbb.SHA1, "create", fmt.Sprintf("name=Room+%d&meetingID=rr-%d", i, i))
			if st.ReturnCode != "SUCCESS" {
				t.Fatalf("create %d: %s", i, body)
			}
		}
		got := meetingsOn(t, fakes)
		for i, n := range got {
			if n != 33 {
				t.Errorf("server %d holds %d meetings, want 33 (all: %v)", i+1, n, got)
			}
		}
	})

	t.Run("create_signed_with_every_algorithm", func(t *testing.T) {
		for _, alg := range bbb.AllAlgorithms {
			st, body := g.call(t, alg, "create", "name=Algo&meetingID=algo-"+alg)
			if st.ReturnCode != "SUCCESS" {
				t.Errorf("%s: %s", alg, body)
			}
		}
	})

	t.Run("non_ascii_names_plus_and_percent20", func(t *testing.T) {
		for _, q := range []string{
			"name=Gr%C3%BC%C3%9Fe+aus+K%C3%B6ln&meetingID=utf8-plus",
			"name=Gr%C3%BC%C3%9Fe%20aus%20K%C3%B6ln&meetingID=utf8-pct",
		} {
			st, body := g.call(t, bbb.SHA1, "create", q)
			if st.ReturnCode != "SUCCESS" {
				t.Errorf("%s: %s", q, body)
			}
		}
		_, body := g.call(t, bbb.SHA256, "getMeetingInfo", "meetingID=utf8-pct")
		if !strings.Contains(body, "Grüße aus Köln") {
			t.Errorf("name not kept: %s", body)
		}
	})

	t.Run("join_redirects_to_holder_which_accepts_it", func(t *testing.T) {
		st, body := g.call(t, bbb.SHA1, "create", "name=Join&meetingID=join-me&moderatorPW=mp&attendeePW=ap")
		if st.ReturnCode != "SUCCESS" {
			t.Fatal(body)
		}
		holder := -1
		for i, f := range fakes {
			for _, m := range f.state(t).Meetings {
				if m.MeetingID == "join-me" {
					holder = i
				}
			}
		}
		if holder < 0 {
			t.Fatal("no server holds join-me")
		}
		joinsBefore := fakes[holder].state(t).Calls["join"]
		resp, _ := get(t, signedURL(g.URL, g.Secret, bbb.SHA1, "join", "meetingID=join-me&fullName=Ada+Lovelace&password=mp"))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("join: HTTP %d, want 302", resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, fakes[holder].URL+"/bigbluebutton/api/join?") {
			t.Fatalf("join redirects to %s, want the holder %s", redactURL(loc), fakes[holder].URL)
		}
		if n := fakes[holder].state(t).Calls["join"]; n != joinsBefore {
			t.Errorf("the gateway called the backend's join itself (%d → %d calls)", joinsBefore, n)
		}
		// The browser follows: the backend must accept the re-signed URL.
		resp, body = get(t, loc)
		if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "/html5client/join?sessionToken=") {
			t.Fatalf("backend join: HTTP %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		resp, _ = get(t, resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("client page: HTTP %d", resp.StatusCode)
		}
		_, info := g.call(t, bbb.SHA1, "getMeetingInfo", "meetingID=join-me")
		if !strings.Contains(info, "<participantCount>1</participantCount>") || !strings.Contains(info, "Ada Lovelace") {
			t.Errorf("participant not counted: %s", info)
		}
	})

	t.Run("fifty_concurrent_creates_of_one_id", func(t *testing.T) {
		var wg sync.WaitGroup
		results := make([]string, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := noRedirect.Get(signedURL(g.URL, g.Secret, bbb.SHA256, "create", "name=Same&meetingID=same-id"))
				if err != nil {
					results[i] = err.Error()
					return
				}
				resp.Body.Close()
				results[i] = resp.Status
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r != "200 OK" {
				t.Errorf("create %d: %s", i, r)
			}
		}
		holders := 0
		for _, f := range fakes {
			for _, m := range f.state(t).Meetings {
				if m.MeetingID == "same-id" {
					holders++
				}
			}
		}
		if holders != 1 {
			t.Errorf("same-id runs on %d servers, want exactly 1", holders)
		}
	})

	t.Run("room1_is_not_room10", func(t *testing.T) {
		g.call(t, bbb.SHA1, "create", "name=Ten&meetingID=room10")
		st, body := g.call(t, bbb.SHA1, "getMeetingInfo", "meetingID=room1")
		if st.MessageKey != "notFound" {
			t.Errorf("room1: got %s", body)
		}
		st, _ = g.call(t, bbb.SHA1, "isMeetingRunning", "meetingID=room1")
		if st.ReturnCode != "SUCCESS" {
			t.Errorf("isMeetingRunning room1: %+v", st)
		}
	})

	t.Run("wrong_checksum", func(t *testing.T) {
		_, body := get(t, g.URL+"/bigbluebutton/api/create?name=x&meetingID=y&checksum=0000000000000000000000000000000000000000")
		if !strings.Contains(body, "<messageKey>checksumError</messageKey>") {
			t.Errorf("got %s", body)
		}
		_, body = get(t, signedURL(g.URL, "not-the-secret", bbb.SHA256, "getMeetings", ""))
		if !strings.Contains(body, "checksumError") {
			t.Errorf("got %s", body)
		}
	})

	t.Run("malformed_requests_never_500", func(t *testing.T) {
		paths := []string{
			"/bigbluebutton/api/create?%zz=%%&checksum=x",
			"/bigbluebutton/api/join?meetingID=" + strings.Repeat("a", 70000),
			"/bigbluebutton/api/getMeetingInfo?meetingID=%00%01&checksum=",
			"/bigbluebutton/api/nope?checksum=" + bbb.Checksum(bbb.SHA1, "nope", "", frontSecret),
			"/bigbluebutton/api/create?;;;&&&===",
			"/bigbluebutton/api//create",
			"/bigbluebutton/api/hooks/../create",
			"/bigbluebutton/api/",
			"/bigbluebutton/api?checksum=junk",
		}
		for _, p := range paths {
			resp, err := noRedirect.Get(g.URL + p)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("%s: HTTP %d", p, resp.StatusCode)
			}
		}
		for _, ct := range []string{"", "application/json", "text/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"} {
			resp, err := http.Post(signedURL(g.URL, g.Secret, bbb.SHA1, "end", "meetingID=zz"), ct, strings.NewReader("<<<garbage"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("POST %q: HTTP %d", ct, resp.StatusCode)
			}
		}
		resp, _ := get(t, g.URL+"/healthz")
		if resp.StatusCode != 200 {
			t.Fatal("gateway died")
		}
	})

	t.Run("getMeetings_survives_a_killed_server", func(t *testing.T) {
		_, body := g.call(t, bbb.SHA1, "getMeetings", "")
		if n := strings.Count(body, "<meeting>"); n < 99 {
			t.Fatalf("getMeetings lists %d meetings, want all (≥ 99)", n)
		}
		fakes[2].kill()
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(signedURL(g.URL, g.Secret, bbb.SHA1, "getMeetings", ""))
		if err != nil {
			t.Fatalf("getMeetings after a kill did not answer within 5s: %v", err)
		}
		defer resp.Body.Close()
		st, err := bbb.ParseStatus(mustRead(t, resp))
		if err != nil || st.ReturnCode != "SUCCESS" {
			t.Fatalf("getMeetings after a kill: %+v %v", st, err)
		}
	})

	t.Run("logs_hold_no_secret", func(t *testing.T) {
		logs := g.out.String()
		for _, s := range []string{frontSecret, fakes[0].Secret, fakes[1].Secret, fakes[2].Secret, "checksum="} {
			if strings.Contains(logs, s) {
				t.Errorf("the log contains %q", s)
			}
		}
	})
}
