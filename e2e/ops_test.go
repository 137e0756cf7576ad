package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// TestOperations checks what operators rely on: every metrics series with
// per-server labels, readiness that follows the fleet, graceful shutdown
// that finishes a burst of requests, and logs free of secrets.
func TestOperations(t *testing.T) {
	fakes := startFleet(t, 3, "--latency", "200ms")
	g := startGateway(t, t.TempDir(), fakes)
	waitHTTP(t, g.proc, g.URL+"/readyz", 200)

	t.Run("metrics_series", func(t *testing.T) {
		g.call(t, bbb.SHA1, "create", "name=mmm&meetingID=metrics-1")
		g.call(t, bbb.SHA1, "getMeetings", "")
		eventually(t, 10e9, "per-server gauges", func() bool {
			_, body := get(t, g.URL+"/metrics")
			return strings.Contains(body, `tinyscale_server_up{server="bbb3"} 1`)
		})
		_, body := get(t, g.URL+"/metrics")
		for _, series := range []string{
			`tinyscale_api_requests_total{call="create",result=`,
			`tinyscale_api_request_duration_seconds_bucket{call="getMeetings"`,
			`tinyscale_backend_requests_total{call="getMeetings",result="ok",server="bbb1"}`,
			`tinyscale_backend_request_duration_seconds_bucket{server="bbb2"`,
			`tinyscale_server_up{server="bbb1"} 1`,
			`tinyscale_server_state{server="bbb1",state="enabled"} 1`,
			`tinyscale_server_meetings{server=`,
			`tinyscale_server_participants{server="bbb3"}`,
			`tinyscale_server_load{server="bbb3"}`,
			`tinyscale_placements_total{server=`,
			`tinyscale_callback_deliveries_total{`,
			`tinyscale_store_errors_total{`,
			`tinyscale_polls_total{result="ok",server="bbb2"}`,
		} {
			if !strings.Contains(body, series) {
				t.Errorf("/metrics lacks %s", series)
			}
		}
	})

	t.Run("readyz_follows_the_fleet", func(t *testing.T) {
		for _, f := range fakes {
			f.kill()
		}
		eventually(t, 20e9, "/readyz to turn 503", func() bool {
			resp, _ := get(t, g.URL+"/readyz")
			return resp.StatusCode == http.StatusServiceUnavailable
		})
		fakes[0].restart()
		waitHTTP(t, fakes[0], fakes[0].URL+"/bigbluebutton/api", 200)
		eventually(t, 20e9, "/readyz to turn 200", func() bool {
			resp, _ := get(t, g.URL+"/readyz")
			return resp.StatusCode == http.StatusOK
		})
		for _, f := range fakes[1:] {
			f.restart()
			waitHTTP(t, f, f.URL+"/bigbluebutton/api", 200)
		}
	})

	t.Run("sigterm_finishes_a_burst", func(t *testing.T) {
		g.call(t, bbb.SHA1, "create", "name=sss&meetingID=shutdown-1")
		const n = 40
		before := 0
		for _, f := range fakes {
			before += f.state(t).Calls["getMeetingInfo"]
		}
		var wg sync.WaitGroup
		results := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := noRedirect.Get(signedURL(g.URL, g.Secret, bbb.SHA1, "getMeetingInfo", "meetingID=shutdown-1"))
				if err != nil {
					results[i] = err.Error()
					return
				}
				defer resp.Body.Close()
				st, err := bbb.ParseStatus(mustRead(t, resp))
				results[i] = fmt.Sprintf("%d %s %v", resp.StatusCode, st.ReturnCode, err)
			}()
		}
		// All n requests are at the servers (which answer after 200ms)
		// before the signal.
		eventually(t, 20e9, "the burst to be in flight", func() bool {
			c := 0
			for _, f := range fakes {
				c += f.state(t).Calls["getMeetingInfo"]
			}
			return c-before >= n
		})
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		wg.Wait()
		for i, r := range results {
			if r != "200 SUCCESS <nil>" {
				t.Errorf("request %d: %s", i, r)
			}
		}
		if code := g.exitCode(); code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0", code)
		}
	})

	t.Run("logs_hold_no_secret", func(t *testing.T) {
		logs := g.out.String()
		if !strings.Contains(logs, "call=getMeetingInfo") {
			t.Errorf("no request log line in:\n%s", logs)
		}
		for _, s := range []string{frontSecret, fakes[0].Secret, "checksum=", g.Token} {
			if strings.Contains(logs, s) {
				t.Errorf("the log contains %q", s)
			}
		}
	})
}
