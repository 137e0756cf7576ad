package gateway_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/callback"
	"github.com/tinyscale/tinyscale/fakebbb"
)

// createDirect creates a meeting on server i without tinyscale.
func (h *relayHarness) createDirect(i int, meetingID string) {
	h.t.Helper()
	c := &bbb.Client{BaseURL: h.bbbs[i].APIURL(), Secret: h.secrets[i]}
	body, err := c.Get(context.Background(), bbb.CallCreate, relayQuery("meetingID", meetingID, "name", meetingID))
	if err != nil {
		h.t.Fatalf("create %q on %s: %v", meetingID, h.ids[i], err)
	}
	if st, err := bbb.ParseStatus(body); err != nil || !st.OK() {
		h.t.Fatalf("create %q on %s: %s", meetingID, h.ids[i], body)
	}
}

// hookEvent is one relayed webhook delivery as the front end checks it.
type hookEvent struct {
	domain string
	events string
}

// verifyHookDelivery checks a relayed event the way a front end does:
// the checksum is sha1(registered URL + body + the secret it shares with
// tinyscale).
func verifyHookDelivery(t *testing.T, registered string, r relayReceived) hookEvent {
	t.Helper()
	if r.method != http.MethodPost {
		t.Errorf("got %s, want POST", r.method)
	}
	path, sum, ok := strings.Cut(r.uri, "checksum=")
	if !ok {
		t.Fatalf("delivery %q has no checksum", r.uri)
	}
	gotURL := strings.TrimSuffix(strings.TrimSuffix(path, "&"), "?")
	u, _ := url.Parse(registered)
	if gotURL != u.RequestURI() {
		t.Errorf("delivered to %q, want the registered %q", gotURL, u.RequestURI())
	}
	want := sha1.Sum([]byte(registered + string(r.body) + relaySecret))
	if sum != hex.EncodeToString(want[:]) {
		t.Errorf("checksum does not verify with tinyscale's secret")
	}
	form, err := url.ParseQuery(string(r.body))
	if err != nil {
		t.Fatalf("body is not a form: %v", err)
	}
	return hookEvent{domain: form.Get("domain"), events: form.Get("event")}
}

func TestHooks_EventsFromAllServers(t *testing.T) {
	h := newRelayHarness(t, 3)
	rc := newRelayReceiver(t)
	registered := rc.srv.URL + "/hooks/bbb?tenant=42"
	a := h.call(bbb.CallHooksCreate, "callbackURL", registered)
	if st := h.status(a); !st.OK() {
		t.Fatalf("hooks/create: %s", a)
	}
	hookID, _ := xmlText(a.body, "hookID")
	if hookID == "" {
		t.Fatalf("hooks/create: no hookID in %s", a)
	}
	for i, fb := range h.bbbs {
		hs := fb.Hooks()
		if len(hs) != 1 || !strings.HasPrefix(hs[0].CallbackURL, h.srv.URL+callback.PathPrefix+callback.KindHook+"/") {
			t.Errorf("%s: got hooks %+v, want one relay hook of tinyscale", h.ids[i], hs)
		}
	}
	stored, err := h.store.Hook(context.Background(), hookID)
	if err != nil || len(stored.Backends) != 3 || stored.CallbackURL != registered {
		t.Errorf("stored hook: got (%+v, %v), want the client's URL on 3 servers", stored, err)
	}

	for i := range h.bbbs {
		h.createDirect(i, fmt.Sprintf("hooked-%d", i))
	}
	rc.wait(t, 3)
	h.settle()
	domains := map[string]bool{}
	for _, r := range rc.requests() {
		ev := verifyHookDelivery(t, registered, r)
		if !strings.Contains(ev.events, "meeting-created") {
			t.Errorf("got events %s, want meeting-created", ev.events)
		}
		domains[ev.domain] = true
	}
	if len(domains) != 3 {
		t.Errorf("got events from domains %v, want all 3 servers", domains)
	}
}

func TestHooks_ListAndDestroy(t *testing.T) {
	h := newRelayHarness(t, 2)
	global := "https://app.example.org/hooks?a=1&b=2"
	perMeeting := "https://app.example.org/room-hooks"
	create := func(kv ...string) (string, bbb.Status) {
		a := h.call(bbb.CallHooksCreate, kv...)
		id, _ := xmlText(a.body, "hookID")
		return id, h.status(a)
	}
	id1, st := create("callbackURL", global)
	if !st.OK() || st.MessageKey != "" {
		t.Fatalf("create global: got %+v", st)
	}
	id2, st := create("callbackURL", perMeeting, "meetingID", "room-1", "eventID", "Meeting-Created,user-joined", "getRaw", "true")
	if !st.OK() || id2 == id1 {
		t.Fatalf("create meeting hook: got %+v id %q", st, id2)
	}
	if dup, st := create("callbackURL", global, "meetingID", "x"); !st.OK() || st.MessageKey != "duplicateWarning" || dup != id1 {
		t.Errorf("duplicate create: got id %q %+v, want SUCCESS duplicateWarning with id %q", dup, st, id1)
	}
	for i, fb := range h.bbbs {
		if n := len(fb.Hooks()); n != 2 {
			t.Errorf("%s: got %d hooks, want 2", h.ids[i], n)
		}
	}

	list := func(kv ...string) []bbb.HookEntry {
		t.Helper()
		a := h.call(bbb.CallHooksList, kv...)
		if !strings.Contains(string(a.body), "<callbackURL><![CDATA[") {
			t.Errorf("hooks/list: got %s, want callbackURL in CDATA", a)
		}
		hs, err := bbb.ParseHooks(a.body)
		if err != nil {
			t.Fatalf("hooks/list: %v: %s", err, a)
		}
		return hs
	}
	listTests := []struct {
		name string
		kv   []string
		want []bbb.HookEntry
	}{
		{"all", nil, []bbb.HookEntry{
			{HookID: id1, CallbackURL: global},
			{HookID: id2, CallbackURL: perMeeting, MeetingID: "room-1", EventID: "meeting-created,user-joined", RawData: true},
		}},
		{"for_its_meeting", []string{"meetingID", "room-1"}, []bbb.HookEntry{
			{HookID: id1, CallbackURL: global},
			{HookID: id2, CallbackURL: perMeeting, MeetingID: "room-1", EventID: "meeting-created,user-joined", RawData: true},
		}},
		{"for_other_meeting", []string{"meetingID", "room-2"}, []bbb.HookEntry{{HookID: id1, CallbackURL: global}}},
	}
	for _, tt := range listTests {
		t.Run("list_"+tt.name, func(t *testing.T) {
			got := list(tt.kv...)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("destroy", func(t *testing.T) {
		a := h.call(bbb.CallHooksDestroy, "hookID", id1)
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s, want SUCCESS", a)
		}
		if v, _ := xmlText(a.body, "removed"); v != "true" {
			t.Errorf("got removed %q, want true", v)
		}
		for i, fb := range h.bbbs {
			if hs := fb.Hooks(); len(hs) != 1 || hs[0].MeetingID != "room-1" {
				t.Errorf("%s: got hooks %+v, want only the meeting hook", h.ids[i], hs)
			}
		}
		if got := list(); len(got) != 1 || got[0].HookID != id2 {
			t.Errorf("list after destroy: got %+v, want only %s", got, id2)
		}
	})

	errTests := []struct {
		name, call string
		kv         []string
		wantKey    string
	}{
		{"destroy_again", bbb.CallHooksDestroy, []string{"hookID", id1}, "destroyMissingHook"},
		{"destroy_unknown", bbb.CallHooksDestroy, []string{"hookID", "999"}, "destroyMissingHook"},
		{"destroy_missing_id", bbb.CallHooksDestroy, nil, "missingParamHookID"},
		{"create_missing_url", bbb.CallHooksCreate, []string{"meetingID", "m"}, "missingParamCallbackURL"},
		{"create_empty_url", bbb.CallHooksCreate, []string{"callbackURL", ""}, "missingParamCallbackURL"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			a := h.call(tt.call, tt.kv...)
			if st := h.status(a); st.OK() || st.MessageKey != tt.wantKey || a.status != http.StatusOK {
				t.Errorf("got %s, want HTTP 200 FAILED %s", a, tt.wantKey)
			}
		})
	}
	t.Run("wrong_checksum", func(t *testing.T) {
		a := h.send(http.MethodGet, h.srv.URL+bbb.APIPath+bbb.CallHooksList+"?checksum=0000000000000000000000000000000000000000", "", nil)
		if st := h.status(a); st.MessageKey != "checksumError" {
			t.Errorf("got %s, want checksumError", a)
		}
	})
}

func TestHooks_CreateWhenNoServerAccepts(t *testing.T) {
	h := newRelayHarness(t, 2)
	for _, fb := range h.bbbs {
		_ = fb.SetFault(fakebbb.FaultError500)
	}
	a := h.call(bbb.CallHooksCreate, "callbackURL", "https://app.example.org/h")
	if st := h.status(a); st.OK() || st.MessageKey != "createHookError" {
		t.Errorf("got %s, want FAILED createHookError", a)
	}
	hooks, err := h.store.Hooks(context.Background())
	if err != nil || len(hooks) != 0 {
		t.Errorf("got stored hooks (%+v, %v), want none", hooks, err)
	}
}

func TestSyncHooks(t *testing.T) {
	h := newRelayHarness(t, 3)
	ctx := context.Background()
	rc := newRelayReceiver(t)
	registered := rc.srv.URL + "/events"
	_ = h.bbbs[2].SetFault(fakebbb.FaultError500)
	a := h.call(bbb.CallHooksCreate, "callbackURL", registered)
	if st := h.status(a); !st.OK() {
		t.Fatalf("hooks/create with one server failing: got %s, want SUCCESS", a)
	}
	id, _ := xmlText(a.body, "hookID")
	if n := len(h.bbbs[2].Hooks()); n != 0 {
		t.Fatalf("failing server got %d hooks, want 0", n)
	}
	_ = h.bbbs[2].SetFault(fakebbb.FaultNone)

	t.Run("fills_missing_server", func(t *testing.T) {
		if err := h.gw.SyncHooks(ctx); err != nil {
			t.Fatalf("SyncHooks: %v", err)
		}
		for i, fb := range h.bbbs {
			if n := len(fb.Hooks()); n != 1 {
				t.Errorf("%s: got %d hooks, want 1", h.ids[i], n)
			}
		}
		hk, err := h.store.Hook(ctx, id)
		if err != nil || len(hk.Backends) != 3 {
			t.Errorf("stored hook: got (%+v, %v), want 3 servers", hk, err)
		}
		h.createDirect(2, "late-server-meeting")
		got := rc.wait(t, 1)
		if ev := verifyHookDelivery(t, registered, got[0]); !strings.Contains(ev.events, "late-server-meeting") {
			t.Errorf("got events %s, want the meeting created on bbb3", ev.events)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		if err := h.gw.SyncHooks(ctx); err != nil {
			t.Fatalf("SyncHooks: %v", err)
		}
		for i, fb := range h.bbbs {
			if n := len(fb.Hooks()); n != 1 {
				t.Errorf("%s: got %d hooks, want still 1", h.ids[i], n)
			}
		}
	})
	t.Run("server_lost_its_hooks", func(t *testing.T) {
		hs := h.bbbs[0].Hooks()
		c := &bbb.Client{BaseURL: h.bbbs[0].APIURL(), Secret: h.secrets[0]}
		if _, err := c.Get(ctx, bbb.CallHooksDestroy, fmt.Sprintf("hookID=%d", hs[0].ID)); err != nil {
			t.Fatal(err)
		}
		if err := h.gw.SyncHooks(ctx); err != nil {
			t.Fatalf("SyncHooks: %v", err)
		}
		if n := len(h.bbbs[0].Hooks()); n != 1 {
			t.Errorf("got %d hooks, want the hook registered again", n)
		}
	})
	t.Run("new_server", func(t *testing.T) {
		fb := fakebbb.NewTestServer(h.t, "relay-new-server-secret") // lives as long as the harness
		s, err := tinyscale.Server{ID: "bbb4", URL: fb.URL, Secret: "relay-new-server-secret"}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.store.PutServer(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := h.fleet.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if err := h.gw.SyncHooks(ctx); err != nil {
			t.Fatalf("SyncHooks: %v", err)
		}
		hs := fb.Hooks()
		if len(hs) != 1 || !strings.HasPrefix(hs[0].CallbackURL, h.srv.URL+callback.PathPrefix) {
			t.Errorf("new server got hooks %+v, want tinyscale's relay hook", hs)
		}
	})
	t.Run("orphans_removed", func(t *testing.T) {
		if err := h.store.DeleteHook(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := h.gw.SyncHooks(ctx); err != nil {
			t.Fatalf("SyncHooks: %v", err)
		}
		for i, fb := range h.bbbs {
			if n := len(fb.Hooks()); n != 0 {
				t.Errorf("%s: got %d hooks, want the orphan removed", h.ids[i], n)
			}
		}
	})
	t.Run("server_down_reported", func(t *testing.T) {
		a := h.call(bbb.CallHooksCreate, "callbackURL", registered+"?again=1")
		if st := h.status(a); !st.OK() {
			t.Fatalf("got %s", a)
		}
		_ = h.bbbs[1].SetFault(fakebbb.FaultError500)
		defer func() { _ = h.bbbs[1].SetFault(fakebbb.FaultNone) }()
		if err := h.gw.SyncHooks(ctx); err == nil {
			t.Errorf("SyncHooks with a failing server: got nil, want an error naming it")
		}
		if n := len(h.bbbs[0].Hooks()); n != 1 {
			t.Errorf("healthy server: got %d hooks, want 1", n)
		}
	})
}

func TestHookRelay_Forged(t *testing.T) {
	h := newRelayHarness(t, 2)
	rc := newRelayReceiver(t)
	registered := rc.srv.URL + "/in"
	a := h.call(bbb.CallHooksCreate, "callbackURL", registered)
	if st := h.status(a); !st.OK() {
		t.Fatal(a)
	}
	id, _ := xmlText(a.body, "hookID")
	relay0 := h.bbbs[0].Hooks()[0].CallbackURL
	body := "domain=bbb1.example.org&event=%5B%7B%7D%5D&timestamp=1"
	sum := func(u, secret string) string {
		s := sha1.Sum([]byte(u + body + secret))
		return hex.EncodeToString(s[:])
	}
	tests := []struct {
		name       string
		url        string
		header     http.Header
		wantStatus int
	}{
		{"unsigned", relay0, nil, 401},
		{"other_servers_secret", relay0 + "?checksum=" + sum(relay0, h.secrets[1]), nil, 401},
		{"front_secret", relay0 + "?checksum=" + sum(relay0, relaySecret), nil, 401},
		{"over_other_url", relay0 + "?checksum=" + sum(registered, h.secrets[0]), nil, 401},
		{"wrong_bearer", relay0, http.Header{"Authorization": {"Bearer " + h.secrets[1]}}, 401},
		{"tampered_token", strings.Replace(relay0, "/hook/ey", "/hook/eX", 1) + "?checksum=" + sum(relay0, h.secrets[0]), nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got HTTP %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("receiver got %d forged events, want none", n)
	}

	t.Run("genuine_then_destroyed", func(t *testing.T) {
		post := func() int {
			resp, err := http.Post(relay0+"?checksum="+sum(relay0, h.secrets[0]), "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := post(); got != http.StatusOK {
			t.Errorf("genuine event: got HTTP %d, want 200", got)
		}
		if got := rc.requests(); len(got) != 1 || string(got[0].body) != body {
			t.Fatalf("receiver got %+v, want the body unchanged", got)
		}
		verifyHookDelivery(t, registered, rc.requests()[0])
		if err := h.store.DeleteHook(context.Background(), id); err != nil && !errors.Is(err, tinyscale.ErrNotFound) {
			t.Fatal(err)
		}
		if got := post(); got != http.StatusGone {
			t.Errorf("event for a destroyed hook: got HTTP %d, want 410", got)
		}
		if n := len(rc.requests()); n != 1 {
			t.Errorf("receiver got %d events, want still 1", n)
		}
	})

	t.Run("client_status_passed_back", func(t *testing.T) {
		h2 := newRelayHarness(t, 1)
		rc2 := newRelayReceiver(t, http.StatusServiceUnavailable)
		a := h2.call(bbb.CallHooksCreate, "callbackURL", rc2.srv.URL+"/x")
		if st := h2.status(a); !st.OK() {
			t.Fatal(a)
		}
		relay := h2.bbbs[0].Hooks()[0].CallbackURL
		s := sha1.Sum([]byte(relay + body + h2.secrets[0]))
		resp, err := http.Post(relay+"?checksum="+hex.EncodeToString(s[:]), "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("got HTTP %d, want the client's 503 so the server retries", resp.StatusCode)
		}
	})
}
