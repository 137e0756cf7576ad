package fakebbb_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/fakebbb"
)

func TestServer_Index(t *testing.T) {
	_, c := testServer(t)
	tests := []struct {
		name, method, path string
	}{
		{"no_slash", http.MethodGet, "/bigbluebutton/api"},
		{"slash", http.MethodGet, "/bigbluebutton/api/"},
		{"junk_checksum", http.MethodGet, "/bigbluebutton/api/?&checksum=junk"},
		{"moodle_probe", http.MethodGet, "/bigbluebutton/api/?&checksum=" + sum("sha1", "", "", testSecret)},
		{"post", http.MethodPost, "/bigbluebutton/api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, "", "")
			wantResult(t, r, "SUCCESS", "")
			if !strings.Contains(r.body, "<version>2.0</version>") {
				t.Errorf("got body %s, want version 2.0", r.body)
			}
		})
	}
}

func TestServer_Create(t *testing.T) {
	long := strings.Repeat("x", 257)
	tests := []struct {
		name  string
		query string
		key   string // expected messageKey; "" = fresh SUCCESS
		code  string
	}{
		{"ok", "meetingID=m1&name=Meeting+One", "", "SUCCESS"},
		{"missing_meeting_id", "name=Meeting", "missingParamMeetingID", "FAILED"},
		{"empty_meeting_id", "meetingID=&name=Meeting", "missingParamMeetingID", "FAILED"},
		{"short_meeting_id", "meetingID=a&name=Meeting", "validationError", "FAILED"},
		{"long_meeting_id", "meetingID=" + long + "&name=Meeting", "validationError", "FAILED"},
		{"comma_meeting_id", "meetingID=a%2Cb&name=Meeting", "validationError", "FAILED"},
		{"missing_name", "meetingID=m2", "validationError", "FAILED"},
		{"short_name", "meetingID=m2&name=x", "validationError", "FAILED"},
		{"long_name", "meetingID=m2&name=" + long, "validationError", "FAILED"},
		{"short_password", "meetingID=m2&name=Meeting&attendeePW=a", "invalidPassword", "FAILED"},
		{"bad_record", "meetingID=m2&name=Meeting&record=yes", "validationError", "FAILED"},
		{"bad_voice_bridge", "meetingID=m2&name=Meeting&voiceBridge=12a", "validationError", "FAILED"},
		{"breakout_without_parent", "meetingID=m2&name=Meeting&isBreakout=true", "parentMeetingIdMissing", "FAILED"},
		{"breakout_unknown_parent", "meetingID=m2&name=Meeting&isBreakout=true&parentMeetingID=nope", "parentMeetingDoesNotExist", "FAILED"},
		{"unsigned", "", "checksumError", "FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := testServer(t)
			var r result
			if tt.query == "" {
				r = c.do(http.MethodGet, "/bigbluebutton/api/create?meetingID=m1&name=Meeting", "", "")
			} else {
				r = c.get("create", tt.query)
			}
			wantResult(t, r, tt.code, tt.key)
		})
	}
}

func TestServer_Create_Fields(t *testing.T) {
	s, c := testServer(t)
	a := c.create(t, "room-42", "meta_endCallbackUrl=https%3A%2F%2Fgl.example.org%2Fend&meta_bbb-origin=greenlight&meta_bad_key=x&voiceBridge=71234&record=true")
	h := sha1.Sum([]byte("room-42"))
	if want := hex.EncodeToString(h[:]) + "-" + a.CreateTime; a.InternalMeetingID != want {
		t.Errorf("got internalMeetingID %q, want %q", a.InternalMeetingID, want)
	}
	if a.ParentMeetingID != "bbb-none" {
		t.Errorf("got parentMeetingID %q, want bbb-none", a.ParentMeetingID)
	}
	if len(a.AttendeePW) != 8 || len(a.ModeratorPW) != 8 {
		t.Errorf("got generated passwords %q/%q, want 8 characters each", a.AttendeePW, a.ModeratorPW)
	}
	if a.VoiceBridge != "71234" {
		t.Errorf("got voiceBridge %q, want 71234", a.VoiceBridge)
	}
	m, err := s.Meeting("room-42")
	if err != nil {
		t.Fatalf("meeting: %v", err)
	}
	want := map[string]string{"endcallbackurl": "https://gl.example.org/end", "bbb-origin": "greenlight"}
	if len(m.Metadata) != len(want) {
		t.Errorf("got metadata %v, want %v", m.Metadata, want)
	}
	for k, v := range want {
		if m.Metadata[k] != v {
			t.Errorf("metadata %s: got %q, want %q", k, m.Metadata[k], v)
		}
	}
	if !m.Record {
		t.Errorf("got record false, want true")
	}
	if strings.Contains(m.CreateQuery, "checksum") {
		t.Errorf("got create query %q, want it without checksum", m.CreateQuery)
	}

	// Another meeting cannot take the voice bridge.
	wantResult(t, c.get("create", "meetingID=other&name=Other&voiceBridge=71234"), "FAILED", "nonUniqueVoiceBridge")
}

func TestServer_Create_Duplicate(t *testing.T) {
	tests := []struct {
		name  string
		first string
		again string
		code  string
		key   string
	}{
		{"no_passwords", "", "", "SUCCESS", "duplicateWarning"},
		{"same_passwords", "attendeePW=ap&moderatorPW=mp", "attendeePW=ap&moderatorPW=mp", "SUCCESS", "duplicateWarning"},
		{"no_passwords_again", "attendeePW=ap&moderatorPW=mp", "", "SUCCESS", "duplicateWarning"},
		{"other_passwords", "attendeePW=ap&moderatorPW=mp", "attendeePW=ap&moderatorPW=zz", "FAILED", "idNotUnique"},
		{"one_password", "attendeePW=ap&moderatorPW=mp", "attendeePW=ap", "FAILED", "idNotUnique"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := testServer(t)
			first := c.create(t, "dup", tt.first)
			again := wantResult(t, c.get("create", "meetingID=dup&name=Other+Name&"+tt.again), tt.code, tt.key)
			if tt.code == "SUCCESS" && (again.InternalMeetingID != first.InternalMeetingID || again.CreateTime != first.CreateTime) {
				t.Errorf("got %s/%s, want the existing meeting %s/%s", again.InternalMeetingID, again.CreateTime, first.InternalMeetingID, first.CreateTime)
			}
		})
	}
}

func TestServer_Create_Post(t *testing.T) {
	const modules = `<modules><module name="presentation"><document url="https://files.example.org/a.pdf" filename="a.pdf"/></module></modules>`
	tests := []struct {
		name        string
		query       string // signed unless raw
		contentType string
		body        string
		code, key   string
	}{
		{"xml_application", "meetingID=p1&name=Post", "application/xml", modules, "SUCCESS", ""},
		{"xml_text_charset", "meetingID=p1&name=Post", "text/xml; charset=utf-8", `<?xml version="1.0" encoding="UTF-8"?>` + modules, "SUCCESS", ""},
		{"xml_moodle_quotes", "meetingID=p1&name=Post", "text/xml", `<?xml version='1.0' encoding='UTF-8'?><modules><module name='presentation'><document url='https://x/a.pdf' /></module></modules>`, "SUCCESS", ""},
		{"missing_content_type", "meetingID=p1&name=Post", "", modules, "FAILED", "unsupportedContentType"},
		{"json_content_type", "meetingID=p1&name=Post", "application/json", `{}`, "FAILED", "unsupportedContentType"},
		{"empty_body_no_content_type", "meetingID=p1&name=Post", "", "", "SUCCESS", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := testServer(t)
			r := c.do(http.MethodPost, "/bigbluebutton/api/create?"+signQuery("create", tt.query, testSecret), tt.contentType, tt.body)
			wantResult(t, r, tt.code, tt.key)
			bodies := s.CreateBodies("p1")
			if tt.body == "" {
				if len(bodies) != 0 {
					t.Errorf("got %d bodies, want 0", len(bodies))
				}
				return
			}
			if len(bodies) != 1 || string(bodies[0].Data) != tt.body || bodies[0].ContentType != tt.contentType {
				t.Errorf("got bodies %+v, want one %q body %q", bodies, tt.contentType, tt.body)
			}
		})
	}
}

func TestServer_Create_FormBody(t *testing.T) {
	const params = "meetingID=f1&name=Form+Meeting&attendeePW=ap&moderatorPW=mp"
	tests := []struct {
		name  string
		query string
		body  string
		code  string
		key   string
	}{
		{"body_only_empty_string", "", params + "&checksum=" + sum("sha1", "create", "", testSecret), "SUCCESS", ""},
		{"body_only_sorted_rebuild", "", params + "&checksum=" + sum("sha256", "create", "attendeePW=ap&meetingID=f1&moderatorPW=mp&name=Form+Meeting", testSecret), "SUCCESS", ""},
		{"body_only_wrong_sum", "", params + "&checksum=" + sum("sha1", "create", params, testSecret), "FAILED", "checksumError"},
		{"query_checksum_body_params", "checksum=" + sum("sha1", "create", "", testSecret), params, "SUCCESS", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := testServer(t)
			path := "/bigbluebutton/api/create"
			if tt.query != "" {
				path += "?" + tt.query
			}
			wantResult(t, c.do(http.MethodPost, path, "application/x-www-form-urlencoded", tt.body), tt.code, tt.key)
			if tt.code == "SUCCESS" {
				if _, err := s.Meeting("f1"); err != nil {
					t.Errorf("meeting: %v", err)
				}
			}
		})
	}
}

func TestServer_Checksum_Algorithms(t *testing.T) {
	q := "meetingID=alg&name=Algorithms"
	tests := []struct {
		name       string
		algorithms []string
		alg        string
		upper      bool
		key        string
	}{
		{"sha1", nil, "sha1", false, ""},
		{"sha256", nil, "sha256", false, ""},
		{"sha384", nil, "sha384", false, ""},
		{"sha512", nil, "sha512", false, ""},
		{"upper_case", nil, "sha1", true, ""},
		{"sha1_disabled", []string{"sha256", "sha512"}, "sha1", false, "checksumError"},
		{"sha384_disabled", []string{"sha1", "sha256", "sha512"}, "sha384", false, "checksumError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := testServer(t, func(s *fakebbb.Server) { s.Algorithms = tt.algorithms })
			cs := sum(tt.alg, "create", q, testSecret)
			if tt.upper {
				cs = strings.ToUpper(cs)
			}
			code := "SUCCESS"
			if tt.key != "" {
				code = "FAILED"
			}
			wantResult(t, c.do(http.MethodGet, "/bigbluebutton/api/create?"+q+"&checksum="+cs, "", ""), code, tt.key)
		})
	}
}

func TestServer_Join(t *testing.T) {
	s, c := testServer(t)
	m := c.create(t, "j1", "attendeePW=ap&moderatorPW=mp&maxParticipants=50&guestPolicy=ASK_MODERATOR")
	tests := []struct {
		name      string
		query     string
		key       string // redirect=false answer
		role      string
		guestWait bool
	}{
		{"moderator_password", "meetingID=j1&fullName=Ada&password=mp", "successfullyJoined", "MODERATOR", false},
		{"viewer_password", "meetingID=j1&fullName=Bob&password=ap", "successfullyJoined", "VIEWER", false},
		{"role_overrides_password", "meetingID=j1&fullName=Cy&password=&role=moderator", "successfullyJoined", "MODERATOR", false},
		{"create_time_match", "meetingID=j1&fullName=Di&role=VIEWER&createTime=" + m.CreateTime, "successfullyJoined", "VIEWER", false},
		{"guest_waits", "meetingID=j1&fullName=Eve&role=VIEWER&guest=true", "guestWait", "VIEWER", true},
		{"wrong_password", "meetingID=j1&fullName=Fay&password=nope", "invalidPassword", "", false},
		{"no_password_no_role", "meetingID=j1&fullName=Fay", "invalidPassword", "", false},
		{"create_time_mismatch", "meetingID=j1&fullName=Gus&role=VIEWER&createTime=1", "mismatchCreateTimeParam", "", false},
		{"unknown_meeting", "meetingID=nope&fullName=Hal&role=VIEWER", "notFound", "", false},
		{"missing_meeting_id", "fullName=Hal&role=VIEWER", "missingParamMeetingID", "", false},
		{"missing_full_name", "meetingID=j1&role=VIEWER", "missingParamFullName", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := "SUCCESS"
			if tt.role == "" {
				code = "FAILED"
			}
			r := c.get("join", tt.query+"&redirect=false")
			a := wantResult(t, r, code, tt.key)
			if code == "FAILED" {
				return
			}
			if len(a.SessionToken) != 16 {
				t.Errorf("got session token %q, want 16 characters", a.SessionToken)
			}
			page := "/html5client/join?sessionToken="
			if tt.guestWait {
				page = "/html5client/guestWait?sessionToken="
			}
			if want := s.URL + page + a.SessionToken; a.URL != want {
				t.Errorf("got url %q, want %q", a.URL, want)
			}
			if !strings.Contains(r.header.Get("Set-Cookie"), "JSESSIONID=") {
				t.Errorf("got Set-Cookie %q, want a JSESSIONID", r.header.Get("Set-Cookie"))
			}
		})
	}
}

func TestServer_Join_RedirectCountsParticipant(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "r1", "")
	r := c.get("join", "meetingID=r1&fullName=Ada+Lovelace&role=MODERATOR&userID=u-1&userdata-bbb_override_default_locale=de")
	if r.status != http.StatusFound {
		t.Fatalf("got status %d, want 302 (body %s)", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatalf("parse Location: %v", err)
	}
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, s.URL+"/html5client/join"; got != want {
		t.Errorf("got redirect to %q, want %q", got, want)
	}
	if tok := loc.Query().Get("sessionToken"); len(tok) != 16 {
		t.Errorf("got sessionToken %q, want 16 characters", tok)
	}
	// Before the browser follows the redirect nobody is in the meeting.
	wantRunning(t, c, "r1", "false")
	page := c.do(http.MethodGet, loc.RequestURI(), "", "")
	if page.status != http.StatusOK || !strings.Contains(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("got client page %d %q, want 200 text/html", page.status, page.header.Get("Content-Type"))
	}
	// Following it twice counts the user once.
	c.do(http.MethodGet, loc.RequestURI(), "", "")
	wantRunning(t, c, "r1", "true")
	info := wantResult(t, c.get("getMeetingInfo", "meetingID=r1"), "SUCCESS", "")
	if info.ParticipantCount != 1 || len(info.Attendees) != 1 {
		t.Fatalf("got %d participants, %d attendees, want 1", info.ParticipantCount, len(info.Attendees))
	}
	at := info.Attendees[0]
	if at.UserID != "u-1" || at.FullName != "Ada Lovelace" || at.Role != "MODERATOR" {
		t.Errorf("got attendee %+v, want u-1/Ada Lovelace/MODERATOR", at)
	}
	if want := "<bbb_override_default_locale>de</bbb_override_default_locale>"; at.CustomData.Inner != want {
		t.Errorf("got customdata %q, want %q", at.CustomData.Inner, want)
	}
	unknown := c.do(http.MethodGet, "/html5client/join?sessionToken=nope", "", "")
	if unknown.status != http.StatusNotFound {
		t.Errorf("got status %d for an unknown session, want 404", unknown.status)
	}
}

func wantRunning(tb testing.TB, c *client, id, want string) {
	tb.Helper()
	a := wantResult(tb, c.get("isMeetingRunning", "meetingID="+url.QueryEscape(id)), "SUCCESS", "")
	if a.Running != want {
		tb.Errorf("got running %q for %s, want %q", a.Running, id, want)
	}
}

func TestServer_Join_Errors(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "e1", "maxParticipants=1&guestPolicy=ALWAYS_DENY")
	c.create(t, "ended", "")
	if err := s.EndMeeting("ended"); err != nil {
		t.Fatalf("end: %v", err)
	}
	if err := s.AddParticipants("e1", 1); err != nil {
		t.Fatalf("add participants: %v", err)
	}
	tests := []struct {
		name   string
		query  string
		key    string
		target string // redirect target before the errors parameter
	}{
		{"unknown_default_target", "meetingID=nope&fullName=A&role=VIEWER", "notFound", s.URL + "?errors="},
		{"unknown_error_redirect_url", "meetingID=nope&fullName=A&role=VIEWER&errorRedirectUrl=" + url.QueryEscape("https://lms.example.org/err?x=1"), "notFound", "https://lms.example.org/err?x=1&errors="},
		{"forcibly_ended", "meetingID=ended&fullName=A&role=VIEWER", "meetingForciblyEnded", s.URL + "?errors="},
		{"max_participants", "meetingID=e1&fullName=A&role=VIEWER", "maxParticipantsReached", s.URL + "?errors="},
		{"guest_denied", "meetingID=e1&fullName=A&role=VIEWER&guest=true", "guestDeniedAccess", s.URL + "?errors="},
		{"bad_checksum_redirects", "", "checksumError", s.URL + "?errors="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r result
			if tt.query == "" {
				r = c.do(http.MethodGet, "/bigbluebutton/api/join?meetingID=e1&fullName=A&role=VIEWER&checksum=bad", "", "")
			} else {
				r = c.get("join", tt.query)
			}
			if r.status != http.StatusFound {
				t.Fatalf("got status %d, want 302 (body %s)", r.status, r.body)
			}
			loc := r.header.Get("Location")
			if !strings.HasPrefix(loc, tt.target) {
				t.Fatalf("got Location %q, want prefix %q", loc, tt.target)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("parse Location: %v", err)
			}
			var errs []struct{ Key, Message string }
			if err := json.Unmarshal([]byte(u.Query().Get("errors")), &errs); err != nil {
				t.Fatalf("parse errors %q: %v", u.Query().Get("errors"), err)
			}
			if len(errs) != 1 || errs[0].Key != tt.key || errs[0].Message == "" {
				t.Errorf("got errors %+v, want one %s", errs, tt.key)
			}
		})
	}
	t.Run("post_not_allowed", func(t *testing.T) {
		q := signQuery("join", "meetingID=e1&fullName=A&role=VIEWER", testSecret)
		r := c.do(http.MethodPost, "/bigbluebutton/api/join?"+q, "", "")
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("got status %d, want 405", r.status)
		}
	})
}

func TestServer_IsMeetingRunning(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "run", "")
	tests := []struct {
		name, id, want string
		participants   int
	}{
		{"unknown", "foobar", "false", 0},
		{"created_empty", "run", "false", 0},
		{"with_participants", "run", "true", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.participants > 0 {
				if err := s.AddParticipants(tt.id, tt.participants); err != nil {
					t.Fatalf("add participants: %v", err)
				}
			}
			wantRunning(t, c, tt.id, tt.want)
		})
	}
	t.Run("missing_meeting_id", func(t *testing.T) {
		wantResult(t, c.get("isMeetingRunning", ""), "FAILED", "missingParamMeetingID")
	})
}

func TestServer_End(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "end1", "")
	if err := s.AddParticipants("end1", 3); err != nil {
		t.Fatalf("add participants: %v", err)
	}
	tests := []struct {
		name, query, code, key string
	}{
		{"ok", "meetingID=end1&password=ignored", "SUCCESS", "sentEndMeetingRequest"},
		{"again_not_found", "meetingID=end1", "FAILED", "notFound"},
		{"missing_meeting_id", "", "FAILED", "missingParamMeetingID"},
		{"short_meeting_id", "meetingID=x", "FAILED", "validationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, c.get("end", tt.query), tt.code, tt.key)
		})
	}
	wantResult(t, c.get("getMeetingInfo", "meetingID=end1"), "FAILED", "notFound")
	if n := s.MeetingCount(); n != 0 {
		t.Errorf("got %d meetings, want 0", n)
	}
	// A new create with the same ID makes a new meeting.
	c.create(t, "end1", "")
	if n := s.MeetingCount(); n != 1 {
		t.Errorf("got %d meetings, want 1", n)
	}
}

func TestServer_End_Delayed(t *testing.T) {
	s, c := testServer(t, func(s *fakebbb.Server) { s.EndDelay = 1 })
	c.create(t, "late", "")
	wantResult(t, c.get("end", "meetingID=late"), "SUCCESS", "sentEndMeetingRequest")
	waitIdle(t, s)
	if n := s.MeetingCount(); n != 0 {
		t.Errorf("got %d meetings after the delayed end, want 0", n)
	}
}

func TestServer_GetMeetingInfo(t *testing.T) {
	_, c := testServer(t)
	c.create(t, "info", "meta_bbb-origin=Moodle")
	tests := []struct {
		name, query, code, key string
	}{
		{"ok", "meetingID=info", "SUCCESS", ""},
		{"unknown", "meetingID=nope", "FAILED", "notFound"},
		{"missing", "", "FAILED", "missingParamMeetingID"},
		{"comma", "meetingID=a%2Cb", "FAILED", "validationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := wantResult(t, c.get("getMeetingInfo", tt.query), tt.code, tt.key)
			if tt.code == "SUCCESS" && a.Metadata.Inner != "<bbb-origin>Moodle</bbb-origin>" {
				t.Errorf("got metadata %q, want bbb-origin", a.Metadata.Inner)
			}
		})
	}
}

func TestServer_GetMeetings(t *testing.T) {
	s, c := testServer(t)
	wantResult(t, c.get("getMeetings", ""), "SUCCESS", "noMeetings")
	c.create(t, "a1", "")
	c.create(t, "a2", "")
	a := wantResult(t, c.get("getMeetings", ""), "SUCCESS", "")
	if got := strings.Join(a.Meetings, ","); got != "a1,a2" {
		t.Errorf("got meetings %q, want a1,a2", got)
	}
	if n := s.Calls("getMeetings"); n != 2 {
		t.Errorf("got %d getMeetings calls, want 2", n)
	}
}

func TestServer_Breakouts(t *testing.T) {
	s, c := testServer(t)
	parent := c.create(t, "parent", "")
	ids, err := s.CreateBreakouts("parent", 2)
	if err != nil {
		t.Fatalf("create breakouts: %v", err)
	}
	if len(ids) != 2 {
		t.Fatalf("got %d breakouts, want 2", len(ids))
	}
	p := wantResult(t, c.get("getMeetingInfo", "meetingID=parent"), "SUCCESS", "")
	if len(p.Breakouts) != 2 {
		t.Fatalf("got breakoutRooms %v, want 2", p.Breakouts)
	}
	for i, id := range ids {
		t.Run("room_"+strconv.Itoa(i+1), func(t *testing.T) {
			_, ts, ok := strings.Cut(id, "-")
			if !ok {
				t.Fatalf("got breakout ID %q, want sha1-timestamp", id)
			}
			h := sha1.Sum([]byte(parent.InternalMeetingID + "-" + ts + "-" + strconv.Itoa(i+1)))
			if want := hex.EncodeToString(h[:]) + "-" + ts; id != want {
				t.Errorf("got ID %q, want %q", id, want)
			}
			b := wantResult(t, c.get("getMeetingInfo", "meetingID="+id), "SUCCESS", "")
			if b.IsBreakout != "true" || b.ParentMeetingID != parent.InternalMeetingID {
				t.Errorf("got isBreakout %q parent %q, want true %q", b.IsBreakout, b.ParentMeetingID, parent.InternalMeetingID)
			}
			if p.Breakouts[i] != b.InternalMeetingID {
				t.Errorf("parent lists %q, want %q", p.Breakouts[i], b.InternalMeetingID)
			}
			// A client that never created the room can join it.
			wantResult(t, c.get("join", "meetingID="+id+"&fullName=A&role=VIEWER&redirect=false"), "SUCCESS", "successfullyJoined")
		})
	}
	if err := s.EndMeeting("parent"); err != nil {
		t.Fatalf("end: %v", err)
	}
	if n := s.MeetingCount(); n != 0 {
		t.Errorf("got %d meetings after ending the parent, want 0", n)
	}
	if _, err := s.CreateBreakouts("parent", 1); !errors.Is(err, fakebbb.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestServer_SendChatMessage(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "chat", "")
	tests := []struct {
		name, query, code, key string
	}{
		{"ok", "meetingID=chat&message=Hello+%3Cb%3Eall%3C%2Fb%3E", "SUCCESS", ""},
		{"empty_message", "meetingID=chat&message=", "FAILED", "validationError"},
		{"long_message", "meetingID=chat&message=" + strings.Repeat("x", 501), "FAILED", "validationError"},
		{"unknown_meeting", "meetingID=nope&message=hi", "FAILED", "meetingNotFound"},
		{"missing_meeting", "message=hi", "FAILED", "missingParamMeetingID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, c.get("sendChatMessage", tt.query), tt.code, tt.key)
		})
	}
	m, _ := s.Meeting("chat")
	if len(m.Chat) != 1 || m.Chat[0].Message != "Hello <b>all</b>" || m.Chat[0].UserName != "System" {
		t.Errorf("got chat %+v, want one System message", m.Chat)
	}
}

func TestServer_InsertDocument(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "doc", "")
	const doc = `<modules><module name="presentation"><document url="https://x/a.pdf"/></module></modules>`
	tests := []struct {
		name, meeting, contentType, body, code, key string
	}{
		{"ok", "doc", "application/xml", doc, "SUCCESS", ""},
		{"text_xml", "doc", "text/xml", doc, "SUCCESS", ""},
		{"form_rejected", "doc", "application/x-www-form-urlencoded", "a=b", "FAILED", "unsupportedContentType"},
		{"empty_body", "doc", "", "", "FAILED", "validationError"},
		{"malformed", "doc", "application/xml", "<modules>", "FAILED", "validationError"},
		{"unknown_meeting", "nope", "application/xml", doc, "FAILED", "notFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := signQuery("insertDocument", "meetingID="+tt.meeting, testSecret)
			wantResult(t, c.do(http.MethodPost, "/bigbluebutton/api/insertDocument?"+q, tt.contentType, tt.body), tt.code, tt.key)
		})
	}
	m, _ := s.Meeting("doc")
	if len(m.Documents) != 2 {
		t.Errorf("got %d documents, want 2", len(m.Documents))
	}
}

func TestServer_GetSessions(t *testing.T) {
	_, c := testServer(t)
	wantResult(t, c.get("getSessions", ""), "SUCCESS", "noSessions")
	c.create(t, "sess", "")
	wantResult(t, c.get("join", "meetingID=sess&fullName=Ann&role=VIEWER&redirect=false"), "SUCCESS", "successfullyJoined")
	r := c.get("getSessions", "")
	wantResult(t, r, "SUCCESS", "")
	if !strings.Contains(r.body, "<userName>Ann</userName>") {
		t.Errorf("got %s, want Ann's session", r.body)
	}
}

func TestServer_UnknownCall(t *testing.T) {
	_, c := testServer(t)
	for _, call := range []string{"getDefaultConfigXML", "setConfigXML", "enter", "nope/deeper"} {
		t.Run(strings.ReplaceAll(call, "/", "_"), func(t *testing.T) {
			wantResult(t, c.get(call, ""), "FAILED", "unsupportedRequest")
		})
	}
	r := c.do(http.MethodGet, "/somewhere/else", "", "")
	if r.status != http.StatusNotFound {
		t.Errorf("got status %d outside the API, want 404", r.status)
	}
}

func TestServer_Participants(t *testing.T) {
	s, c := testServer(t)
	c.create(t, "pp", "")
	if err := s.AddParticipants("nope", 1); !errors.Is(err, fakebbb.ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
	if err := s.AddParticipants("pp", 5); err != nil {
		t.Fatalf("add: %v", err)
	}
	if err := s.RemoveParticipants("pp", 2); err != nil {
		t.Fatalf("remove: %v", err)
	}
	ms := s.Meetings()
	if len(ms) != 1 || ms[0].Participants != 3 || !ms[0].Running {
		t.Errorf("got %+v, want one running meeting with 3 participants", ms)
	}
	if err := s.RemoveParticipants("pp", 10); err != nil {
		t.Fatalf("remove: %v", err)
	}
	wantRunning(t, c, "pp", "false")
}
