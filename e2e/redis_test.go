package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/internal/redistest"
)

// TestSeveralInstances runs two tinyscale instances on one Redis in front of
// three fakebbb processes: they must behave exactly like one.
func TestSeveralInstances(t *testing.T) {
	rs := redistest.StartServer(t, redistest.AppendOnly())
	fakes := startFleet(t, 3)
	env := func(id string) []string {
		return []string{"TINYSCALE_STORE=" + rs.URL(), "TINYSCALE_INSTANCE_ID=" + id}
	}
	a := startGateway(t, t.TempDir(), fakes, env("a")...)
	b := startGateway(t, t.TempDir(), fakes, env("b")...)
	both := []*gateway{a, b}

	t.Run("concurrent_creates_of_one_id_land_on_one_server", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := both[i%2]
				resp, err := noRedirect.Get(signedURL(g.URL, g.Secret, bbb.SHA1, "create", "name=Shared&meetingID=shared-1"))
				if err != nil {
					errs <- err
					return
				}
				st, err := bbb.ParseStatus(mustRead(t, resp))
				resp.Body.Close()
				if err != nil || st.ReturnCode != "SUCCESS" {
					errs <- fmt.Errorf("create via %d: %+v %v", i%2, st, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		holders := 0
		for _, f := range fakes {
			for _, m := range f.state(t).Meetings {
				if m.MeetingID == "shared-1" {
					holders++
				}
			}
		}
		if holders != 1 {
			t.Fatalf("shared-1 runs on %d servers, want 1", holders)
		}
	})

	t.Run("created_through_one_joined_through_the_other", func(t *testing.T) {
		a.call(t, bbb.SHA256, "create", "name=Cross&meetingID=cross-1")
		h := holderOf(t, fakes, "cross-1")
		if got := b.joinTarget(t, "cross-1"); got != fakes[h].URL {
			t.Errorf("join through b goes to %s, want %s", got, fakes[h].URL)
		}
	})

	t.Run("cordon_on_one_obeyed_by_the_other", func(t *testing.T) {
		a.cli(t, "servers", "cordon", "bbb1")
		eventually(t, 3*time.Second, "instance b to see the cordon", func() bool {
			return b.status(t)["bbb1"].State == "cordoned"
		})
		for i := range 9 {
			id := fmt.Sprintf("via-b-%d", i)
			b.call(t, bbb.SHA1, "create", "name=xxx&meetingID="+id)
			if holderOf(t, fakes, id) == 0 {
				t.Errorf("%s was placed on cordoned bbb1 by instance b", id)
			}
		}
		a.cli(t, "servers", "enable", "bbb1")
	})

	var ids []string
	for i := range 12 {
		id := fmt.Sprintf("keep-%d", i)
		both[i%2].call(t, bbb.SHA1, "create", "name=kkk&meetingID="+id)
		ids = append(ids, id)
	}
	routes := map[string]string{}
	for _, id := range ids {
		routes[id] = a.joinTarget(t, id)
	}

	t.Run("redis_outage_gives_clear_errors_then_recovers", func(t *testing.T) {
		rs.Stop()
		client := &http.Client{Timeout: 10 * time.Second}
		for i := range 10 {
			for _, g := range both {
				resp, err := client.Get(signedURL(g.URL, g.Secret, bbb.SHA1, "create", fmt.Sprintf("name=ooo&meetingID=outage-%d", i)))
				if err != nil {
					t.Fatalf("create during the outage did not answer: %v", err)
				}
				body := string(mustRead(t, resp))
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(body, "<returncode>FAILED</returncode>") {
					t.Errorf("create during the outage: HTTP %d %s", resp.StatusCode, body)
				}
			}
		}
		eventually(t, 10*time.Second, "/readyz to report not ready", func() bool {
			resp, err := client.Get(b.URL + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusServiceUnavailable
		})
		rs.Restart()
		for _, g := range both {
			eventually(t, 20*time.Second, "/readyz to recover", func() bool {
				resp, err := client.Get(g.URL + "/readyz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
		}
		for id, want := range routes {
			if got := b.joinTarget(t, id); got != want {
				t.Errorf("after the outage %s routes to %s, want %s", id, got, want)
			}
		}
		if st, body := b.call(t, bbb.SHA1, "create", "name=nnn&meetingID=after-outage"); st.ReturnCode != "SUCCESS" {
			t.Errorf("create after recovery: %s", body)
		}
	})

	t.Run("killing_an_instance_loses_nothing_and_the_other_polls", func(t *testing.T) {
		a.kill()
		for id, want := range routes {
			if got := b.joinTarget(t, id); got != want {
				t.Errorf("after killing a, %s routes to %s, want %s", id, got, want)
			}
		}
		// b must poll now (whichever held the lease): a killed server is
		// seen as down.
		fakes[2].kill()
		eventually(t, 20*time.Second, "instance b to mark bbb3 down", func() bool {
			return b.status(t)["bbb3"].Health == "down"
		})
	})
}
