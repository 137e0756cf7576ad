package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// holderOf returns the index of the fake that runs meetingID, or -1.
func holderOf(t testing.TB, fakes []*proc, meetingID string) int {
	t.Helper()
	for i, f := range fakes {
		select {
		case <-f.done:
			continue // killed
		default:
		}
		for _, m := range f.state(t).Meetings {
			if m.MeetingID == meetingID {
				return i
			}
		}
	}
	return -1
}

// joinTarget returns the base URL a join of meetingID redirects to.
func (g *gateway) joinTarget(t testing.TB, meetingID string) string {
	t.Helper()
	resp, body := get(t, signedURL(g.URL, g.Secret, bbb.SHA1, "join", "meetingID="+meetingID+"&fullName=Tester&role=VIEWER"))
	if resp.StatusCode != http.StatusFound {
		mt := g.adminGet(t, "/admin/api/v1/meetings")
		t.Fatalf("join %s: HTTP %d %s\nmeetings: %s\n%s", meetingID, resp.StatusCode, body, mt, g.out.String())
	}
	loc := resp.Header.Get("Location")
	i := strings.Index(loc, "/bigbluebutton/api/join?")
	if i < 0 {
		t.Fatalf("join %s redirects to %s", meetingID, redactURL(loc))
	}
	return loc[:i]
}

// cli runs the tinyscale CLI against g's admin API.
func (g *gateway) cli(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin.tinyscale, args...)
	cmd.Env = append(cmd.Environ(), "TINYSCALE_ADMIN_URL="+g.URL, "TINYSCALE_ADMIN_TOKEN="+g.Token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tinyscale %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

type statusServer struct {
	ID           string `json:"id"`
	Host         string `json:"host"`
	State        string `json:"state"`
	Health       string `json:"health"`
	Meetings     int    `json:"meetings"`
	Participants int    `json:"participants"`
}

// status returns `tinyscale status --json` by server ID.
func (g *gateway) status(t testing.TB) map[string]statusServer {
	t.Helper()
	out := g.cli(t, "status", "--json")
	var doc struct {
		Servers []statusServer `json:"servers"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	m := map[string]statusServer{}
	for _, s := range doc.Servers {
		m[s.ID] = s
	}
	return m
}

// TestFleet checks load-aware placement, server states, failover, the
// status CLI, and kill -9 recovery with three fakebbb processes.
func TestFleet(t *testing.T) {
	fakes := startFleet(t, 3)
	dir := t.TempDir()
	g := startGateway(t, dir, fakes)

	t.Run("busy_server_avoided", func(t *testing.T) {
		// A meeting created directly on bbb1, with 200 participants.
		resp, body := get(t, signedURL(fakes[0].URL, fakes[0].Secret, bbb.SHA256, "create", "name=Big&meetingID=big-lecture"))
		if resp.StatusCode != 200 || !strings.Contains(body, "SUCCESS") {
			t.Fatalf("direct create: %s", body)
		}
		fakes[0].control(t, "/fakebbb/meetings/big-lecture/participants?n=200")
		eventually(t, 20e9, "the poller to see 200 participants on bbb1", func() bool {
			return g.status(t)["bbb1"].Participants == 200
		})
		for i := range 30 {
			st, body := g.call(t, bbb.SHA1, "create", fmt.Sprintf("name=Small&meetingID=small-%d", i))
			if st.ReturnCode != "SUCCESS" {
				t.Fatal(body)
			}
			if h := holderOf(t, fakes, fmt.Sprintf("small-%d", i)); h == 0 {
				t.Errorf("small-%d was placed on the busy server", i)
			}
		}
	})

	t.Run("cordoned_server_keeps_its_meeting_but_gets_no_new_one", func(t *testing.T) {
		held := "small-0"
		h := holderOf(t, fakes, held)
		name := fakes[h].name
		g.cli(t, "servers", "cordon", name)
		if s := g.status(t)[name]; s.State != "cordoned" {
			t.Fatalf("status shows %s as %q", name, s.State)
		}
		for i := range 10 {
			id := fmt.Sprintf("after-cordon-%d", i)
			g.call(t, bbb.SHA1, "create", "name=xxx&meetingID="+id)
			if holderOf(t, fakes, id) == h {
				t.Errorf("%s was placed on cordoned %s", id, name)
			}
		}
		if got := g.joinTarget(t, held); got != fakes[h].URL {
			t.Errorf("join of %s on cordoned %s goes to %s", held, name, got)
		}
		if st, _ := g.call(t, bbb.SHA1, "create", "name=xxx&meetingID="+held); st.ReturnCode != "SUCCESS" {
			t.Errorf("create of the running meeting on the cordoned server: %+v", st)
		}
		if holderOf(t, fakes, held) != h {
			t.Errorf("the running meeting moved off the cordoned server")
		}
		out := g.cli(t, "status")
		if !strings.Contains(out, "cordoned") {
			t.Errorf("status does not show the cordon:\n%s", out)
		}
		g.cli(t, "servers", "enable", name)
	})

	// Routes of every meeting before the crash.
	routes := map[string]string{}
	for i := range 30 {
		id := fmt.Sprintf("small-%d", i)
		routes[id] = g.joinTarget(t, id)
	}

	t.Run("kill_9_and_restart_keeps_every_route", func(t *testing.T) {
		g.kill()
		// One server is briefly unreachable while tinyscale restarts.
		_ = fakes[1].cmd.Process.Signal(syscall.SIGSTOP)
		g.restart()
		waitHTTP(t, g.proc, g.URL+"/healthz", 200)
		_ = fakes[1].cmd.Process.Signal(syscall.SIGCONT)
		for id, want := range routes {
			if got := g.joinTarget(t, id); got != want {
				t.Errorf("after kill -9, %s routes to %s, want %s", id, got, want)
			}
		}
	})

	t.Run("killed_server_marked_down_and_its_meeting_moves", func(t *testing.T) {
		// The server holding small-0 (never the busy bbb1, see above) dies.
		held := "small-0"
		var victim *proc
		for _, f := range fakes {
			if routes[held] == f.URL {
				victim = f
			}
		}
		if victim == nil {
			t.Fatalf("%s routes to %s, which is none of the servers", held, routes[held])
		}
		victim.kill()
		eventually(t, 20e9, victim.name+" to be marked down", func() bool {
			return g.status(t)[victim.name].Health == "down"
		})
		if out := g.cli(t, "status"); !strings.Contains(out, "down") {
			t.Errorf("status table does not say down:\n%s", out)
		}
		st, body := g.call(t, bbb.SHA1, "create", "name=again&meetingID="+held)
		if st.ReturnCode != "SUCCESS" {
			t.Fatalf("create after failover: %s", body)
		}
		got := g.joinTarget(t, held)
		if got == victim.URL {
			t.Fatalf("%s still routes to the dead server", held)
		}
		if h := holderOf(t, fakes, held); h < 0 || fakes[h].URL != got {
			t.Errorf("%s: join goes to %s but the meeting runs on %d", held, got, h)
		}
	})
}

// TestBurstSpreads sends 300 creates at once to a gateway in front of ten
// servers: the least-used server must hold at least 2/3 of the most-used.
func TestBurstSpreads(t *testing.T) {
	fakes := startFleet(t, 10)
	g := startGateway(t, t.TempDir(), fakes)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 30)
	errs := make(chan string, 300)
	for i := range 300 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := noRedirect.Get(signedURL(g.URL, g.Secret, bbb.SHA256, "create", fmt.Sprintf("name=bbb&meetingID=burst-%d", i)))
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	counts := meetingsOn(t, fakes)
	lo, hi, sum := counts[0], counts[0], 0
	for _, c := range counts {
		lo, hi, sum = min(lo, c), max(hi, c), sum+c
	}
	if sum != 300 {
		t.Errorf("%d meetings in all, want 300: %v", sum, counts)
	}
	if float64(hi) > 1.5*float64(lo) {
		t.Errorf("most-used server holds %d, least-used %d: more than 1.5× (%v)", hi, lo, counts)
	}
}

// adminGet GETs an admin API path with the admin token.
func (g *gateway) adminGet(t testing.TB, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+g.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	return string(mustRead(t, resp))
}
