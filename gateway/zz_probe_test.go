package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestZZProbe(t *testing.T) {
	h := newHarness(t, 2)
	h.create("probe-room", "attendeePW", "ap", "moderatorPW", "mp")
	sq := func(call, q string) string { return signed(call, q, bbb.SHA256, frontSecret) }
	show := func(name string, w interface{ Result() *http.Response }, body string) {
		r := w.Result()
		t.Logf("%s: %d ct=%q loc=%q body=%.400s", name, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Location"), body)
	}
	cases := []struct{ name, method, path, q, ct, body string }{
		{"post_join", "POST", "/bigbluebutton/api/join", sq("join", "meetingID=probe-room&fullName=A&role=VIEWER"), "", ""},
		{"put_create", "PUT", "/bigbluebutton/api/create", sq("create", "meetingID=put-room&name=Put"), "", ""},
		{"post_publish", "POST", "/bigbluebutton/api/publishRecordings", sq("publishRecordings", "recordID=x&publish=true"), "", ""},
		{"get_put_tt", "GET", "/bigbluebutton/api/putRecordingTextTrack", sq("putRecordingTextTrack", "recordID=x&kind=subtitles&lang=en"), "", ""},
		{"get_insert", "GET", "/bigbluebutton/api/insertDocument", sq("insertDocument", "meetingID=probe-room"), "", ""},
		{"dup_same_pw", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=probe-room&name=XY&attendeePW=ap&moderatorPW=mp"), "", ""},
		{"dup_diff_pw", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=probe-room&name=XY&attendeePW=zz&moderatorPW=mp"), "", ""},
		{"dup_no_pw", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=probe-room&name=XY"), "", ""},
		{"id256", "GET", "/bigbluebutton/api/create", sq("create", "meetingID="+strings.Repeat("a", 256)+"&name=XY"), "", ""},
		{"id257", "GET", "/bigbluebutton/api/create", sq("create", "meetingID="+strings.Repeat("a", 257)+"&name=XY"), "", ""},
		{"id_comma", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=a%2Cb&name=XY"), "", ""},
		{"id_nul", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=ab%00cd&name=XY"), "", ""},
		{"id_space", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=+ab+&name=XY"), "", ""},
		{"no_name", "GET", "/bigbluebutton/api/create", sq("create", "meetingID=noname"), "", ""},
		{"get_meetings_post_form", "POST", "/bigbluebutton/api/getMeetings", "", "application/x-www-form-urlencoded", "checksum=" + digest(bbb.SHA1, "getMeetings"+frontSecret)},
		{"hooks_post", "POST", "/bigbluebutton/api/hooks/list", sq("hooks/list", ""), "", ""},
		{"hooks_upper", "GET", "/bigbluebutton/api/hooks/list", strings.ToUpper(sq("hooks/list", "")), "", ""},
		{"unknown_call", "GET", "/bigbluebutton/api/getDefaultConfigXML", sq("getDefaultConfigXML", ""), "", ""},
		{"case_call", "GET", "/bigbluebutton/api/GetMeetings", sq("GetMeetings", ""), "", ""},
		{"trailing_slash", "GET", "/bigbluebutton/api/getMeetings/", sq("getMeetings", ""), "", ""},
		{"get_sessions", "GET", "/bigbluebutton/api/getSessions", sq("getSessions", ""), "", ""},
		{"tt_unknown", "GET", "/bigbluebutton/api/getRecordingTextTracks", sq("getRecordingTextTracks", "recordID=nope"), "", ""},
		{"tt_norec", "GET", "/bigbluebutton/api/getRecordingTextTracks", sq("getRecordingTextTracks", ""), "", ""},
		{"tt_nochecksum", "GET", "/bigbluebutton/api/getRecordingTextTracks", "recordID=x", "", ""},
		{"put_tt_nochecksum", "POST", "/bigbluebutton/api/putRecordingTextTrack", "recordID=x", "", ""},
		{"getrec_empty", "GET", "/bigbluebutton/api/getRecordings", sq("getRecordings", ""), "", ""},
		{"getrec_paged", "GET", "/bigbluebutton/api/getRecordings", sq("getRecordings", "limit=5"), "", ""},
		{"publish_unknown", "GET", "/bigbluebutton/api/publishRecordings", sq("publishRecordings", "recordID=nope&publish=true"), "", ""},
		{"join_unknown", "GET", "/bigbluebutton/api/join", sq("join", "meetingID=nope&fullName=A&role=VIEWER"), "", ""},
		{"join_nofullname", "GET", "/bigbluebutton/api/join", sq("join", "meetingID=probe-room&role=VIEWER&redirect=false"), "", ""},
		{"end_unknown", "GET", "/bigbluebutton/api/end", sq("end", "meetingID=nope"), "", ""},
		{"chat_unknown", "GET", "/bigbluebutton/api/sendChatMessage", sq("sendChatMessage", "meetingID=nope&message=hi"), "", ""},
		{"index_head", "HEAD", "/bigbluebutton/api", "", "", ""},
		{"index_post_big", "POST", "/bigbluebutton/api/", "", "text/plain", strings.Repeat("x", 1000)},
	}
	for _, c := range cases {
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		w := h.serveRaw(c.method, c.path, c.q, c.ct, body)
		show(c.name, w, w.Body.String())
	}
}
