package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/dashboard"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/fleet"
	"github.com/tinyscale/tinyscale/gateway"
	"github.com/tinyscale/tinyscale/poller"
	"github.com/tinyscale/tinyscale/store/bolt"
)

// chromiumPath finds the browser; without one the test is skipped, except
// in CI (CI=true), where the browser test must always run.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium not found, and CI=true: the dashboard browser test must run in CI (apt-get install chromium)")
	}
	tb.Skip("chromium not found (apt-get install chromium); skipping the dashboard browser test")
	return ""
}

// stack is the whole gateway on one httptest server: 3 fake BBB servers,
// a bolt store, the fleet, the poller, the gateway, the admin API and the
// dashboard.
type stack struct {
	url      string
	store    *bolt.Store
	fakes    []*fakebbb.Server
	gwSecret string
}

// newStack starts the stack; wrap, if given, wraps the handler of the
// whole site (e.g. to delay some answers).
func newStack(t *testing.T, wrap ...func(http.Handler) http.Handler) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	st, err := bolt.Open(filepath.Join(t.TempDir(), "tinyscale.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s := &stack{store: st, gwSecret: "gateway-secret-for-browser-test"}
	for i := 1; i <= 3; i++ {
		secret := fmt.Sprintf("bbb%d-secret", i)
		fk := fakebbb.NewTestServer(t, secret)
		s.fakes = append(s.fakes, fk)
		srv, err := tinyscale.Server{ID: fmt.Sprintf("bbb%d", i), URL: fk.URL, Secret: secret}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutServer(ctx, srv); err != nil {
			t.Fatal(err)
		}
	}
	log := discard()
	f := fleet.New(st, fleet.Options{Logger: log})
	if err := f.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Config{Secret: s.gwSecret, Fleet: f, Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close(context.Background()) })
	p := &poller.Poller{Fleet: f, Store: st, Interval: 300 * time.Millisecond, Grace: 200 * time.Millisecond, Logger: log}
	history := admin.NewHistory(f, nil)
	history.Interval = 250 * time.Millisecond
	history.Window = 20 * time.Second // the charts fill up within the test
	wg.Add(2)
	go func() { defer wg.Done(); _ = p.Run(ctx) }()
	go func() { defer wg.Done(); history.Run(ctx) }()

	cfg := admin.Config{Fleet: f, Store: st, Token: testToken, Probe: poller.Probe, History: history, Logger: log}
	mux := http.NewServeMux()
	mux.Handle("/bigbluebutton/api/", gw)
	mux.Handle(admin.PathPrefix, admin.NewHandler(cfg))
	mux.Handle(dashboard.PathPrefix, dashboard.NewHandler(dashboard.Config{Admin: cfg, Refresh: 400 * time.Millisecond}))
	var h http.Handler = mux
	for _, w := range wrap {
		h = w(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// createMeeting creates a meeting through the gateway with a signed
// create call, as a front end would.
func (s *stack) createMeeting(t *testing.T, id, name string) {
	t.Helper()
	c := &bbb.Client{BaseURL: s.url + bbb.APIPath, Secret: s.gwSecret}
	body, err := c.Get(context.Background(), bbb.CallCreate,
		"meetingID="+id+"&name="+name+"&attendeePW=ap&moderatorPW=mp")
	if err != nil {
		t.Fatalf("create through the gateway: %v", err)
	}
	if st, err := bbb.ParseStatus(body); err != nil || !st.OK() {
		t.Fatalf("create through the gateway: got %+v, %v, want SUCCESS", st, err)
	}
}

// startBrowser starts headless chromium for the duration of the test and
// returns its context (ending within timeout).
func startBrowser(t *testing.T, chromium string, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	// Start the browser before listening to its events.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// TestDashboard_SlowMeetings checks that the fleet table shows while the
// meetings list is still being gathered. The page used to wait for the
// status, the history and the meetings together, and the meetings ask
// every server: one hanging server kept the whole page on "Loading…"
// until its timeout, just when the operator needed the page.
func TestDashboard_SlowMeetings(t *testing.T) {
	chromium := chromiumPath(t)
	release := make(chan struct{})
	s := newStack(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == admin.PathPrefix+"meetings" {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	defer close(release) // before the server's cleanup, which waits for handlers
	bctx := startBrowser(t, chromium, 60*time.Second)
	sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(sctx,
		chromedp.Navigate(s.url+"/admin/"),
		chromedp.WaitVisible(`#token`),
		chromedp.SendKeys(`#token`, testToken),
		chromedp.Click(`form.login button[type=submit]`),
		chromedp.WaitVisible(`#servers tr[data-id="bbb3"]`),
	)
	if err != nil {
		html, _ := chromedp.Run(bctx, chromedp.OuterHTML("body"))
		t.Fatalf("got no server rows while the meetings are pending: %v\n%.2000s", err, html)
	}
}

func TestDashboard_Browser(t *testing.T) {
	chromium := chromiumPath(t)
	s := newStack(t)
	bctx := startBrowser(t, chromium, 90*time.Second)
	lctx, stopListening := context.WithCancel(bctx)
	var wg sync.WaitGroup
	defer func() { stopListening(); wg.Wait() }()
	// Keep the page's console for failure reports, and accept every
	// confirm dialog, as an operator clicking OK would.
	var (
		mu      sync.Mutex
		console []string
		dialogs []string
	)
	messages := chromedp.Console(lctx)
	events := chromedp.Events(lctx, page.JavascriptDialogOpening)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, fmt.Sprintf("%+v", m))
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			if _, err := chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	// do runs browser actions with a deadline; on failure it reports the
	// page's location, body and console.
	do := func(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			loc, _ := chromedp.Run(bctx, chromedp.Location())
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML("body"))
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%s: %v\nat %s\nconsole: %q\n%.4000s", what, err, loc, console, html)
		}
	}
	poll := func(t *testing.T, what, expr string) {
		t.Helper()
		do(t, what, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr)(ctx, tg)
			return err
		}))
	}

	var meetingServer string // where the gateway placed the meeting
	// statesJS reads every row's state and health in one go (the table is
	// re-rendered by the refresh, so separate queries could straddle one).
	const statesJS = `Array.from(document.querySelectorAll('#servers tbody tr[data-id]')).map(r =>
		r.dataset.id + '=' + r.querySelector('[data-field=state]').textContent + '/' +
		r.querySelector('[data-field=health]').textContent).join(' ')`
	row := func(id string) string { return `#servers tr[data-id="` + id + `"]` }
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"log_in", func(t *testing.T) {
			do(t, "log in",
				chromedp.Navigate(s.url+"/admin/"),
				chromedp.WaitVisible(`#token`),
				chromedp.SendKeys(`#token`, testToken),
				chromedp.Click(`form.login button[type=submit]`),
				chromedp.WaitVisible(row("bbb1")),
			)
		}},
		{"sees_three_servers", func(t *testing.T) {
			got, err := chromedp.Run(bctx, chromedp.Evaluate[string](statesJS))
			if want := "bbb1=enabled/up bbb2=enabled/up bbb3=enabled/up"; err != nil || got != want {
				t.Errorf("got servers %q (%v), want %q", got, err, want)
			}
		}},
		{"cordon_one", func(t *testing.T) {
			do(t, "cordon",
				chromedp.Click(row("bbb2")+` button[data-action="cordon"]`),
				chromedp.WaitVisible(row("bbb2")+` .badge.cordoned`),
			)
			got, err := chromedp.Run(bctx, chromedp.Evaluate[string](statesJS))
			if want := "bbb1=enabled/up bbb2=cordoned/up bbb3=enabled/up"; err != nil || got != want {
				t.Errorf("got servers %q (%v), want %q", got, err, want)
			}
			mu.Lock()
			got = strings.Join(dialogs, "|")
			mu.Unlock()
			if want := "Cordon bbb2? It takes no new meetings; running meetings go on."; got != want {
				t.Errorf("got confirmation dialogs %q, want %q", got, want)
			}
			servers, err := s.store.Servers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if servers[1].ID != "bbb2" || servers[1].State != tinyscale.StateCordoned {
				t.Errorf("got stored %s %s, want bbb2 cordoned", servers[1].ID, servers[1].State)
			}
		}},
		{"meeting_appears", func(t *testing.T) {
			s.createMeeting(t, "browser-meeting", "Browser+Meeting")
			sel := `#meetings tr[data-meeting="browser-meeting"]`
			do(t, "wait for the meeting", chromedp.WaitVisible(sel))
			got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('`+sel+` .id').textContent`))
			if err != nil || got != "Browser Meeting" {
				t.Errorf("got meeting name %q (%v), want Browser Meeting", got, err)
			}
			if s.fakes[1].MeetingCount() != 0 {
				t.Error("got the meeting on the cordoned bbb2, want it elsewhere")
			}
			m, err := s.store.Meeting(context.Background(), "browser-meeting")
			if err != nil {
				t.Fatal(err)
			}
			meetingServer = m.ServerID
			fk := s.fakes[0]
			if m.ServerID == "bbb3" {
				fk = s.fakes[2]
			}
			if err := fk.AddParticipants("browser-meeting", 12); err != nil {
				t.Fatal(err)
			}
			// The poller, the history and the page pick the participants up.
			cellSel := `#meetings tr[data-meeting="browser-meeting"] td.num`
			poll(t, "wait for 12 participants", `document.querySelector('`+cellSel+`').textContent === "12"`)
			// The server's load chart rises off its baseline.
			chart := `document.querySelector('` + row(m.ServerID) + ` svg.spark polyline')`
			rises := `(() => { const p = ` + chart + `; return !!p && p.getAttribute('points').split(' ').some(xy => parseFloat(xy.split(',')[1]) < 16); })()`
			poll(t, "wait for the load chart of "+m.ServerID+" to rise", rises)
		}},
		{"screenshots", func(t *testing.T) {
			dir := os.Getenv("TINYSCALE_SCREENSHOTS")
			if dir == "" {
				dir = t.TempDir()
			}
			desktop, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("desktop screenshot: %v", err)
			}
			// On a phone, rows become cards: the header row is hidden.
			do(t, "phone layout",
				chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
				chromedp.WaitNotVisible(`#servers thead`),
			)
			width, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			if err != nil || width > 375 {
				t.Errorf("got page width %d (%v) at 375px, want no horizontal scrolling", width, err)
			}
			phone, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("phone screenshot: %v", err)
			}
			for name, b := range map[string][]byte{"desktop.png": desktop, "phone.png": phone} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	steps = append(steps, struct {
		name string
		run  func(t *testing.T)
	}{"panic_ends_the_meeting", func(t *testing.T) {
		mu.Lock()
		dialogs = nil
		mu.Unlock()
		do(t, "panic",
			chromedp.Click(row(meetingServer)+` button[data-action="panic"]`),
			chromedp.WaitNotPresent(`#meetings tr[data-meeting="browser-meeting"]`),
			chromedp.WaitVisible(row(meetingServer)+` .badge.cordoned`),
		)
		mu.Lock()
		got := strings.Join(dialogs, "|")
		mu.Unlock()
		if !strings.HasPrefix(got, "PANIC "+meetingServer+"?") || !strings.Contains(got, "ends ALL 1 meeting ") {
			t.Errorf("got confirmation dialogs %q, want one PANIC confirmation naming 1 meeting", got)
		}
		// Panic forgets the mapping. A poll round that listed the meeting
		// before its end may learn it again, until the next round (Grace is
		// short here) removes it; wait for that.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := s.store.Meeting(context.Background(), "browser-meeting")
			if errors.Is(err, tinyscale.ErrNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("got the meeting still mapped (%v), want it forgotten", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}})
	for _, st := range steps {
		if !t.Run(st.name, st.run) {
			break
		}
	}
}
