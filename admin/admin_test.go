package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
	"github.com/tinyscale/tinyscale/fakebbb"
	"github.com/tinyscale/tinyscale/fleet"
)

func TestHandler_ListAndGet(t *testing.T) {
	e := newEnv(t, 2)
	e.setHealth(t, tinyscale.Health{ServerID: "bbb2", Up: false, LastError: "getMeetings: connection refused", CheckedAt: e.now, Meetings: 1, Participants: 7})
	ctx := context.Background()

	got, err := e.client.Servers(ctx)
	if err != nil {
		t.Fatalf("Servers: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d servers, want 2", len(got))
	}
	tests := []struct {
		name   string
		got    admin.Server
		id     string
		health string
		meet   int
		lastE  string
	}{
		{"never_polled_is_up", got[0], "bbb1", admin.HealthUp, 0, ""},
		{"down_with_error", got[1], "bbb2", admin.HealthDown, 1, "getMeetings: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.got
			if s.ID != tt.id || s.Health != tt.health || s.Meetings != tt.meet || s.LastError != tt.lastE {
				t.Errorf("got %+v, want id %s health %s meetings %d lastError %q", s, tt.id, tt.health, tt.meet, tt.lastE)
			}
			if !strings.HasSuffix(s.Host, "/bigbluebutton/api/") {
				t.Errorf("got host %q, want the API URL", s.Host)
			}
			if s.State != tinyscale.StateEnabled || s.Source != tinyscale.SourceFile || s.Weight != 1 {
				t.Errorf("got state %q source %q weight %v, want enabled file 1", s.State, s.Source, s.Weight)
			}
		})
	}

	t.Run("get_one", func(t *testing.T) {
		s, err := e.client.Server(ctx, "bbb2")
		if err != nil || s.ID != "bbb2" || s.Participants != 7 {
			t.Errorf("got %+v, %v, want bbb2 with 7 participants", s, err)
		}
	})
	t.Run("get_unknown", func(t *testing.T) {
		_, err := e.client.Server(ctx, "nope")
		var ae *admin.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Code != admin.CodeNotFound {
			t.Errorf("got %v, want 404 not_found", err)
		}
	})
	t.Run("no_secret_in_answer", func(t *testing.T) {
		_, body := e.do(t, http.MethodGet, "/admin/api/v1/servers", "", bearer())
		for _, s := range e.secrets {
			if strings.Contains(body, s) {
				t.Errorf("got body containing a server secret, want none:\n%s", body)
			}
		}
		if strings.Contains(body, `"secret"`) {
			t.Errorf("got body with a secret field, want none")
		}
	})
}

func TestHandler_Routing(t *testing.T) {
	e := newEnv(t, 1)
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   string
	}{
		{"unknown_endpoint", http.MethodGet, "/admin/api/v1/nope", 404, admin.CodeNotFound},
		{"root", http.MethodGet, "/admin/api/v1/", 404, admin.CodeNotFound},
		{"wrong_method_servers", http.MethodPut, "/admin/api/v1/servers", 405, admin.CodeMethodNotAllowed},
		{"wrong_method_action", http.MethodGet, "/admin/api/v1/servers/bbb1/cordon", 405, admin.CodeMethodNotAllowed},
		{"unknown_action", http.MethodPost, "/admin/api/v1/servers/bbb1/reboot", 404, admin.CodeNotFound},
		{"empty_id", http.MethodDelete, "/admin/api/v1/servers/", 405, admin.CodeMethodNotAllowed},
		{"unknown_server_action", http.MethodPost, "/admin/api/v1/servers/zzz/cordon", 404, admin.CodeNotFound},
		{"bad_since", http.MethodGet, "/admin/api/v1/history?since=yesterday", 400, admin.CodeBadRequest},
		{"bad_force", http.MethodDelete, "/admin/api/v1/servers/bbb1?force=maybe", 400, admin.CodeBadRequest},
		{"trailing_slash_ok", http.MethodGet, "/admin/api/v1/status/", 200, ""},
		{"head_ok", http.MethodHead, "/admin/api/v1/servers", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.do(t, tt.method, tt.path, "", bearer())
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantCode == "" {
				return
			}
			var eb struct{ Error admin.Error }
			if err := json.Unmarshal([]byte(body), &eb); err != nil {
				t.Fatalf("got non-JSON error body %q: %v", body, err)
			}
			if eb.Error.Code != tt.wantCode || eb.Error.Status != tt.wantStatus || eb.Error.Message == "" {
				t.Errorf("got error %+v, want code %s status %d and a message", eb.Error, tt.wantCode, tt.wantStatus)
			}
		})
	}
}

func TestHandler_AddServer(t *testing.T) {
	ctx := context.Background()
	notBBB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>It works!</body></html>"))
	}))
	t.Cleanup(notBBB.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name       string
		req        func(e *env) admin.AddServerRequest
		wantStatus int // 0: success
		wantCode   string
		wantHealth string
		wantWarn   bool
	}{
		{"ok", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: e.fakes["bbb2"].URL, Secret: "secret-bbb2", ID: "new", Weight: 2, Tags: []string{" a", "b", "a", ""}}
		}, 0, "", admin.HealthUp, false},
		{"bad_secret", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: e.fakes["bbb2"].URL, Secret: "wrong-secret", ID: "new"}
		}, 422, admin.CodeBadSecret, "", false},
		{"not_bbb", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: notBBB.URL, Secret: "whatever-secret", ID: "new"}
		}, 422, admin.CodeNotBBB, "", false},
		{"unreachable_added_down", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: unreachable, Secret: "whatever-secret", ID: "new"}
		}, 0, "", admin.HealthDown, true},
		{"duplicate_id", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: e.fakes["bbb2"].URL, Secret: "secret-bbb2", ID: "bbb1"}
		}, 409, admin.CodeConflict, "", false},
		{"duplicate_host", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: e.fakes["bbb1"].URL + "/bigbluebutton/api", Secret: "secret-bbb1", ID: "other"}
		}, 409, admin.CodeConflict, "", false},
		{"missing_host", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Secret: "some-secret-value"}
		}, 400, admin.CodeBadRequest, "", false},
		{"missing_secret", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: "https://bbb9.example.org"}
		}, 400, admin.CodeBadRequest, "", false},
		{"bad_state", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: "https://bbb9.example.org", Secret: "some-secret-value", State: "paused"}
		}, 400, admin.CodeBadRequest, "", false},
		{"bad_id", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: "https://bbb9.example.org", Secret: "some-secret-value", ID: "a/b"}
		}, 400, admin.CodeBadRequest, "", false},
		{"no_scheme", func(e *env) admin.AddServerRequest {
			return admin.AddServerRequest{Host: "bbb9.example.org", Secret: "some-secret-value"}
		}, 400, admin.CodeBadRequest, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 2)
			// bbb2 is used as the server to add: remove it from the store first.
			if err := e.store.DeleteServer(ctx, "bbb2"); err != nil {
				t.Fatal(err)
			}
			if err := e.fleet.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			req := tt.req(e)
			res, err := e.client.AddServer(ctx, req)
			if tt.wantStatus != 0 {
				var ae *admin.Error
				if !errors.As(err, &ae) || ae.Status != tt.wantStatus || ae.Code != tt.wantCode {
					t.Fatalf("got %v, want %d %s", err, tt.wantStatus, tt.wantCode)
				}
				if req.Secret != "" && strings.Contains(ae.Message, req.Secret) {
					t.Errorf("got message %q containing the secret", ae.Message)
				}
				if _, ok := e.storedServer(t, req.ID); ok && req.ID != "bbb1" {
					t.Errorf("got server %q stored, want none", req.ID)
				}
				if got := e.changes.Load(); got != 0 {
					t.Errorf("got %d OnChange calls, want 0", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("AddServer: %v", err)
			}
			if res.Server.ID != "new" || res.Server.Health != tt.wantHealth || res.Server.State != tinyscale.StateEnabled {
				t.Errorf("got %+v, want id new, health %s, enabled", res.Server, tt.wantHealth)
			}
			if got := len(res.Warnings) > 0; got != tt.wantWarn {
				t.Errorf("got warnings %q, want some: %v", res.Warnings, tt.wantWarn)
			}
			s, ok := e.storedServer(t, "new")
			if !ok {
				t.Fatal("got no stored server, want it stored")
			}
			if s.Source != tinyscale.SourceAPI || s.Secret != req.Secret || !strings.HasSuffix(s.URL, "/bigbluebutton/api/") {
				t.Errorf("got stored %q source %q url %q, want api source, the secret, normalised URL", s.ID, s.Source, s.URL)
			}
			if _, ok := e.fleet.Backend("new"); !ok {
				t.Error("got server missing from the fleet, want it applied at once")
			}
			if got := e.changes.Load(); got != 1 {
				t.Errorf("got %d OnChange calls, want 1", got)
			}
			if tt.name == "ok" {
				if got, want := strings.Join(res.Server.Tags, ","), "a,b"; got != want || res.Server.Weight != 2 {
					t.Errorf("got tags %q weight %v, want %q 2", got, res.Server.Weight, want)
				}
			}
		})
	}

	t.Run("without_probe", func(t *testing.T) {
		e := newEnv(t, 1, func(c *admin.Config) { c.Probe = nil })
		res, err := e.client.AddServer(ctx, admin.AddServerRequest{Host: unreachable, Secret: "s3cr3t-value"})
		if err != nil {
			t.Fatalf("AddServer: %v", err)
		}
		if res.Server.Health != admin.HealthUp || len(res.Warnings) != 0 {
			t.Errorf("got %+v, warnings %q, want an unprobed server counted up with no warning", res.Server, res.Warnings)
		}
		if want := strings.ReplaceAll(strings.TrimPrefix(unreachable, "http://"), ":", "-"); res.Server.ID != want {
			t.Errorf("got id %q, want the default id %q", res.Server.ID, want)
		}
	})

	t.Run("bad_json", func(t *testing.T) {
		e := newEnv(t, 1)
		for _, body := range []string{`{`, `{"host":"https://x.example.org","secret":"s","color":"red"}`, `[]`, `{"host":1}`, `{} {}`, ``} {
			status, resp := e.do(t, http.MethodPost, "/admin/api/v1/servers", body, map[string]string{
				"Authorization": "Bearer " + testToken, "Content-Type": "application/json"})
			if status != http.StatusBadRequest {
				t.Errorf("body %q: got status %d (%s), want 400", body, status, resp)
			}
		}
		status, _ := e.do(t, http.MethodPost, "/admin/api/v1/servers", `{}`, map[string]string{
			"Authorization": "Bearer " + testToken, "Content-Type": "text/plain"})
		if status != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: got status %d, want 415", status)
		}
	})

	// A body over the limit used to be cut off silently and then answered
	// 400 "unexpected EOF", which hid the real cause.
	t.Run("body_too_large", func(t *testing.T) {
		e := newEnv(t, 1)
		big := `{"host":"https://x.example.org","secret":"s","tags":["` + strings.Repeat("t", 100<<10) + `"]}`
		status, resp := e.do(t, http.MethodPost, "/admin/api/v1/servers", big, map[string]string{
			"Authorization": "Bearer " + testToken, "Content-Type": "application/json"})
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(resp, "too large") {
			t.Errorf("got status %d (%s), want 413 saying the body is too large", status, resp)
		}
		if _, ok := e.storedServer(t, "x.example.org"); ok {
			t.Errorf("the server was added from a body over the limit")
		}
	})
}

func TestHandler_SetState(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2)
	tests := []struct {
		name  string
		state tinyscale.ServerState
	}{
		{"cordon", tinyscale.StateCordoned},
		{"cordon_again", tinyscale.StateCordoned},
		{"disable", tinyscale.StateDisabled},
		{"enable", tinyscale.StateEnabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.changes.Load()
			got, err := e.client.SetState(ctx, "bbb1", tt.state)
			if err != nil {
				t.Fatalf("SetState: %v", err)
			}
			if got.State != tt.state {
				t.Errorf("got answer state %q, want %q", got.State, tt.state)
			}
			if s, _ := e.storedServer(t, "bbb1"); s.State != tt.state {
				t.Errorf("got stored state %q, want %q", s.State, tt.state)
			}
			if b, _ := e.fleet.Backend("bbb1"); b.State != tt.state {
				t.Errorf("got fleet state %q, want %q (applied at once)", b.State, tt.state)
			}
			if s, _ := e.storedServer(t, "bbb1"); s.Secret != "secret-bbb1" {
				t.Error("got the stored secret changed, want it kept")
			}
			if got := e.changes.Load() - before; got != 1 {
				t.Errorf("got %d OnChange calls, want 1", got)
			}
		})
	}
	t.Run("other_untouched", func(t *testing.T) {
		if b, _ := e.fleet.Backend("bbb2"); b.State != tinyscale.StateEnabled {
			t.Errorf("got bbb2 state %q, want enabled", b.State)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := e.client.Cordon(ctx, "bbb9")
		var ae *admin.Error
		if !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("got %v, want 404", err)
		}
	})
	t.Run("invalid_state", func(t *testing.T) {
		if _, err := e.client.SetState(ctx, "bbb1", "paused"); err == nil {
			t.Error("got nil, want an error")
		}
	})
}

func TestHandler_RemoveServer(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		meetings    int
		force       bool
		wantStatus  int
		wantForgot  int
		wantWarning bool
		unpolled    bool // the meetings are mapped but no poll has counted them yet
	}{
		{"idle", 0, false, 0, 0, true, false},
		{"busy_refused", 2, false, 409, 0, false, false},
		{"busy_forced", 2, true, 0, 2, true, false},
		// Meetings created since the last poll were not counted, so a
		// remove without force forgot them.
		{"busy_not_yet_polled_refused", 2, false, 409, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 2)
			for i := range tt.meetings {
				e.createMeeting(t, "bbb1", "m"+string(rune('a'+i)), 0)
			}
			polled := tt.meetings
			if tt.unpolled {
				polled = 0
			}
			e.setHealth(t, tinyscale.Health{ServerID: "bbb1", Up: true, Meetings: polled, CheckedAt: e.now})
			res, err := e.client.RemoveServer(ctx, "bbb1", tt.force)
			if tt.wantStatus != 0 {
				var ae *admin.Error
				if !errors.As(err, &ae) || ae.Status != tt.wantStatus {
					t.Fatalf("got %v, want status %d", err, tt.wantStatus)
				}
				if _, ok := e.storedServer(t, "bbb1"); !ok {
					t.Error("got server removed, want it kept")
				}
				return
			}
			if err != nil {
				t.Fatalf("RemoveServer: %v", err)
			}
			if res.ID != "bbb1" || res.Forgotten != tt.wantForgot {
				t.Errorf("got %+v, want id bbb1, forgotten %d", res, tt.wantForgot)
			}
			if got := len(res.Warnings) > 0; got != tt.wantWarning {
				t.Errorf("got warnings %q, want some: %v (servers.json server)", res.Warnings, tt.wantWarning)
			}
			if _, ok := e.storedServer(t, "bbb1"); ok {
				t.Error("got server still stored, want removed")
			}
			if _, ok := e.fleet.Backend("bbb1"); ok {
				t.Error("got server still in the fleet, want removed at once")
			}
			ms, _ := e.store.Meetings(ctx)
			if len(ms) != 0 {
				t.Errorf("got %d stored meetings, want 0", len(ms))
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		e := newEnv(t, 1)
		_, err := e.client.RemoveServer(ctx, "bbb7", false)
		var ae *admin.Error
		if !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("got %v, want 404", err)
		}
	})
}

func TestHandler_Panic(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		keep      bool
		state     tinyscale.ServerState
		down      bool
		wantState tinyscale.ServerState
		wantEnded int
		wantWarn  bool
	}{
		{"enabled_gets_cordoned", false, tinyscale.StateEnabled, false, tinyscale.StateCordoned, 2, false},
		{"keep_state", true, tinyscale.StateEnabled, false, tinyscale.StateEnabled, 2, false},
		{"disabled_stays_disabled", false, tinyscale.StateDisabled, false, tinyscale.StateDisabled, 2, false},
		{"server_down", false, tinyscale.StateEnabled, true, tinyscale.StateCordoned, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 2)
			if tt.state != tinyscale.StateEnabled {
				if _, err := e.client.SetState(ctx, "bbb1", tt.state); err != nil {
					t.Fatal(err)
				}
			}
			e.createMeeting(t, "bbb1", "m1", 3)
			e.createMeeting(t, "bbb1", "m2", 0)
			e.createMeeting(t, "bbb2", "other", 1)
			if _, err := e.fakes["bbb1"].CreateBreakouts("m1", 2); err != nil {
				t.Fatal(err)
			}
			if tt.down {
				if err := e.fakes["bbb1"].SetFault(fakebbb.FaultDrop); err != nil {
					t.Fatal(err)
				}
			}
			res, err := e.client.Panic(ctx, "bbb1", tt.keep)
			if err != nil {
				t.Fatalf("Panic: %v", err)
			}
			if res.Ended != tt.wantEnded || res.Forgotten != 2 || len(res.Failed) != 0 {
				t.Errorf("got ended %d forgotten %d failed %v, want %d 2 none", res.Ended, res.Forgotten, res.Failed, tt.wantEnded)
			}
			if got := len(res.Warnings) > 0; got != tt.wantWarn {
				t.Errorf("got warnings %q, want some: %v", res.Warnings, tt.wantWarn)
			}
			if res.Server.State != tt.wantState {
				t.Errorf("got state %q, want %q", res.Server.State, tt.wantState)
			}
			if !tt.down {
				if n := e.fakes["bbb1"].MeetingCount(); n != 0 {
					t.Errorf("got %d meetings left on bbb1, want 0", n)
				}
			}
			if n := e.fakes["bbb2"].MeetingCount(); n != 1 {
				t.Errorf("got %d meetings on bbb2, want 1 (untouched)", n)
			}
			if _, err := e.store.Meeting(ctx, "m1"); !errors.Is(err, tinyscale.ErrNotFound) {
				t.Errorf("got stored m1 err %v, want ErrNotFound", err)
			}
			if m, err := e.store.Meeting(ctx, "other"); err != nil || m.ServerID != "bbb2" {
				t.Errorf("got other %+v, %v, want kept on bbb2", m, err)
			}
		})
	}
}

func TestHandler_Meetings(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 3)
	e.createMeeting(t, "bbb1", "alpha", 4)
	e.createMeeting(t, "bbb2", "beta", 0)
	e.createMeeting(t, "bbb3", "gamma", 2)
	if err := e.fakes["bbb3"].SetFault(fakebbb.FaultError500); err != nil {
		t.Fatal(err)
	}

	t.Run("all", func(t *testing.T) {
		list, err := e.client.Meetings(ctx)
		if err != nil {
			t.Fatalf("Meetings: %v", err)
		}
		var got []string
		for _, m := range list.Meetings {
			got = append(got, m.Server+"/"+m.ID)
		}
		if want := "bbb1/alpha bbb2/beta bbb3/gamma"; strings.Join(got, " ") != want {
			t.Errorf("got %q, want %q", strings.Join(got, " "), want)
		}
		a := list.Meetings[0]
		if a.Name != "Room alpha" || a.Participants != 4 || !a.Running || a.Stale || a.CreatedAt.IsZero() || a.InternalID == "" {
			t.Errorf("got %+v, want name, 4 participants, running, creation time, internal ID", a)
		}
		if g := list.Meetings[2]; !g.Stale || g.Participants != 0 {
			t.Errorf("got %+v, want a stale entry for the failing server", g)
		}
		if len(list.Errors) != 1 || list.Errors[0].Server != "bbb3" {
			t.Errorf("got errors %+v, want one for bbb3", list.Errors)
		}
	})
	t.Run("one_server", func(t *testing.T) {
		list, err := e.client.ServerMeetings(ctx, "bbb2")
		if err != nil {
			t.Fatalf("ServerMeetings: %v", err)
		}
		if len(list.Meetings) != 1 || list.Meetings[0].ID != "beta" || len(list.Errors) != 0 {
			t.Errorf("got %+v, want beta only", list)
		}
	})
	t.Run("unknown_server", func(t *testing.T) {
		_, err := e.client.ServerMeetings(ctx, "nope")
		var ae *admin.Error
		if !errors.As(err, &ae) || ae.Status != 404 {
			t.Errorf("got %v, want 404", err)
		}
	})
}

func TestHandler_Status(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 3, func(c *admin.Config) {
		c.Load = func(b *fleet.Backend) float64 { return float64(b.Health.Participants) * 10 }
	})
	if _, err := e.client.Cordon(ctx, "bbb2"); err != nil {
		t.Fatal(err)
	}
	e.setHealth(t,
		tinyscale.Health{ServerID: "bbb1", Up: true, Meetings: 2, Participants: 10, CheckedAt: e.now},
		tinyscale.Health{ServerID: "bbb3", Up: false, Meetings: 1, Participants: 3, LastError: "timeout", CheckedAt: e.now},
	)
	st, err := e.client.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	want := admin.Totals{Servers: 3, Up: 2, Down: 1, Enabled: 2, Cordoned: 1, Meetings: 3, Participants: 13}
	if st.Totals != want {
		t.Errorf("got totals %+v, want %+v", st.Totals, want)
	}
	if !st.Store.OK {
		t.Errorf("got store %+v, want ok", st.Store)
	}
	if got := st.Servers[0].Load; got != 100 {
		t.Errorf("got load %v, want 100 from the configured load function", got)
	}
	if st.Servers[0].CheckedAt == nil || !st.Servers[0].CheckedAt.Equal(e.now) || st.Servers[1].CheckedAt != nil {
		t.Errorf("got checkedAt %v / %v, want the poll time / nil", st.Servers[0].CheckedAt, st.Servers[1].CheckedAt)
	}
	if !st.Time.Equal(e.now) {
		t.Errorf("got time %v, want %v", st.Time, e.now)
	}

	t.Run("store_down", func(t *testing.T) {
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := e.client.Status(ctx)
		if err != nil {
			t.Fatalf("Status: %v", err)
		}
		if st.Store.OK || st.Store.Error == "" || len(st.Servers) != 3 {
			t.Errorf("got store %+v with %d servers, want not ok with an error and the fleet from memory", st.Store, len(st.Servers))
		}
		_, err = e.client.Cordon(ctx, "bbb1")
		var ae *admin.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != admin.CodeStoreUnavailable {
			t.Errorf("cordon with the store down: got %v, want 503 store_unavailable", err)
		}
	})
}

func TestHandler_History(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2)
	e.setHealth(t, tinyscale.Health{ServerID: "bbb1", Up: true, Participants: 5, CheckedAt: e.now})
	start := e.now
	for i := range 3 {
		e.now = start.Add(time.Duration(i) * 10 * time.Second)
		e.history.Sample()
	}
	h, err := e.client.History(ctx, time.Time{})
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(h.Servers) != 2 || len(h.Servers[0].Points) != 3 || h.Servers[0].Points[0].Load != 5 {
		t.Fatalf("got %+v, want 2 servers with 3 points, bbb1 at load 5", h)
	}
	if h.Interval != 10 || h.Window != 3600 || h.Latest != e.now.Unix() {
		t.Errorf("got interval %v window %v latest %d, want 10 3600 %d", h.Interval, h.Window, h.Latest, e.now.Unix())
	}
	h, err = e.client.History(ctx, start.Add(10*time.Second))
	if err != nil {
		t.Fatalf("History since: %v", err)
	}
	if len(h.Servers) != 2 || len(h.Servers[0].Points) != 1 {
		t.Errorf("got %+v, want only the newest point", h)
	}

	t.Run("no_history", func(t *testing.T) {
		e := newEnv(t, 1, func(c *admin.Config) { c.History = nil })
		h, err := e.client.History(ctx, time.Time{})
		if err != nil || len(h.Servers) != 0 {
			t.Errorf("got %+v, %v, want an empty history", h, err)
		}
	})
}

func TestClient_BaseURL(t *testing.T) {
	e := newEnv(t, 1)
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	tests := []struct {
		name       string
		base       string
		wantStatus int // 0: success
	}{
		{"plain", e.srv.URL, 0},
		{"trailing_slash", e.srv.URL + "/", 0},
		{"api_prefix", e.srv.URL + "/admin/api/v1", 0},
		{"api_prefix_slash", e.srv.URL + "/admin/api/v1/", 0},
		{"not_tinyscale", other.URL, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &admin.Client{BaseURL: tt.base, Token: testToken}
			st, err := c.Status(context.Background())
			if tt.wantStatus == 0 {
				if err != nil || len(st.Servers) != 1 {
					t.Errorf("got %+v, %v, want one server", st, err)
				}
				return
			}
			var ae *admin.Error
			if !errors.As(err, &ae) || ae.Status != tt.wantStatus || !strings.Contains(ae.Message, "is this tinyscale?") {
				t.Errorf("got %v, want a %d error asking whether this is tinyscale", err, tt.wantStatus)
			}
		})
	}
}

func TestNewHandler_NoFleet(t *testing.T) {
	h := admin.NewHandler(admin.Config{Token: testToken, Logger: discard()})
	r := httptest.NewRequest(http.MethodGet, "/admin/api/v1/status", nil)
	r.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("got status %d, want 503", w.Code)
	}
}

func TestHandler_OnChange(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2)
	steps := []struct {
		name string
		do   func() error
		want int32
	}{
		{"cordon", func() error { _, err := e.client.Cordon(ctx, "bbb1"); return err }, 1},
		{"panic_of_cordoned_changes_nothing", func() error { _, err := e.client.Panic(ctx, "bbb1", false); return err }, 1},
		{"panic_cordons", func() error { _, err := e.client.Panic(ctx, "bbb2", false); return err }, 2},
		{"remove", func() error { _, err := e.client.RemoveServer(ctx, "bbb2", false); return err }, 3},
		{"failed_remove", func() error { _, err := e.client.RemoveServer(ctx, "bbb2", false); return nilIfNotFound(err) }, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			if got := e.changes.Load(); got != st.want {
				t.Errorf("got %d OnChange calls, want %d", got, st.want)
			}
		})
	}
}

func nilIfNotFound(err error) error {
	var ae *admin.Error
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return nil
	}
	return err
}
