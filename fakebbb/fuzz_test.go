package fakebbb_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/fakebbb"
)

// FuzzServer sends arbitrary API requests (with verification disabled, so
// they reach every handler) after a few fixed ones and checks that the
// server never panics and never answers 500.
func FuzzServer(f *testing.F) {
	f.Add("create", "GET", "meetingID=m1&name=Meeting+1&record=true&meta_endCallbackUrl=http%3A%2F%2Fx%2F", "", "")
	f.Add("join", "GET", "meetingID=m1&fullName=A&role=MODERATOR&redirect=false&userdata-x=1", "", "")
	f.Add("join", "GET", "meetingID=m1&fullName=A&password=&errorRedirectUrl=%3A%2F%2Fbad", "", "")
	f.Add("create", "POST", "meetingID=m1", "application/xml", "<modules><module name='presentation'/></modules>")
	f.Add("create", "POST", "", "application/x-www-form-urlencoded", "meetingID=m2&name=Form&checksum=x")
	f.Add("insertDocument", "POST", "meetingID=m1", "text/xml", "<modules>")
	f.Add("putRecordingTextTrack", "POST", "recordID=r&kind=subtitles&lang=en", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nWEBVTT\r\n--x--\r\n")
	f.Add("getRecordings", "GET", "meetingID=m1,m2&state=any&limit=-1&offset=999999999999&meta_a=%25", "", "")
	f.Add("updateRecordings", "GET", "recordID=,,&meta_x=", "", "")
	f.Add("hooks/create", "GET", "callbackURL=%zz&getRaw=TRUE&eventID=", "", "")
	f.Add("hooks/destroy", "GET", "hookID=-1", "", "")
	f.Add("end", "POST", "", "application/x-www-form-urlencoded", "meetingID=m1")
	f.Add("sendChatMessage", "GET", "meetingID=m1&message=%00%ff", "", "")
	f.Fuzz(func(t *testing.T, call, method, query, contentType, body string) {
		if strings.ContainsAny(call, "?#% \t\r\n") || strings.ContainsAny(method, " \t\r\n/") || method == "" {
			return
		}
		s := &fakebbb.Server{URL: "http://bbb.test", HTTPClient: &http.Client{Transport: okTransport{}}}
		defer s.Close()
		do := func(method, target, ct, body string) {
			t.Helper()
			var req *http.Request
			func() {
				defer func() {
					if recover() != nil {
						req = nil // httptest.NewRequest rejects some targets
					}
				}()
				req = httptest.NewRequest(method, target, strings.NewReader(body))
			}()
			if req == nil {
				return
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Errorf("%s %s: got status %d", method, target, rec.Code)
			}
		}
		do("GET", "/bigbluebutton/api/create?meetingID=m1&name=Meeting+1&record=true", "", "")
		_ = s.AddParticipants("m1", 1)
		_, _ = s.AddRecordings("m1", 1, nil)
		do(method, "/bigbluebutton/api/"+call+"?"+query, contentType, body)
		do("GET", "/bigbluebutton/api/getMeetings", "", "")
		do("GET", "/html5client/join?"+query, "", "")
		_ = s.EndMeeting("m1")
	})
}
