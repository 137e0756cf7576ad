package bbb_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestCallFromPath(t *testing.T) {
	tests := []struct {
		name, path, want string
		ok               bool
	}{
		{name: "index", path: "/bigbluebutton/api", want: "", ok: true},
		{name: "index_slash", path: "/bigbluebutton/api/", want: "", ok: true},
		{name: "create", path: "/bigbluebutton/api/create", want: "create", ok: true},
		{name: "trailing_slash", path: "/bigbluebutton/api/getMeetings/", want: "getMeetings", ok: true},
		{name: "hooks", path: "/bigbluebutton/api/hooks/create", want: "hooks/create", ok: true},
		{name: "case_kept", path: "/bigbluebutton/api/GetMeetings", want: "GetMeetings", ok: true},
		{name: "prefix_only_match", path: "/bigbluebutton/apifoo", ok: false},
		{name: "other", path: "/health", ok: false},
		{name: "empty", path: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := bbb.CallFromPath(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got (%q, %v), want (%q, %v)", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		target      string
		ctype       string
		body        string
		wantCall    string
		wantParams  string // Params.Encode()
		wantForm    string // Form.Encode()
		wantBody    string
		wantRawQ    string
		wantNilBody bool
	}{
		{name: "get", method: "GET", target: "/bigbluebutton/api/join?meetingID=a&fullName=A+B&checksum=x",
			wantCall: "join", wantParams: "meetingID=a&fullName=A+B&checksum=x", wantRawQ: "meetingID=a&fullName=A+B&checksum=x", wantNilBody: true},
		{name: "get_body_ignored", method: "GET", target: "/bigbluebutton/api/end?meetingID=a", body: "x=1", ctype: "application/x-www-form-urlencoded",
			wantCall: "end", wantParams: "meetingID=a", wantRawQ: "meetingID=a", wantNilBody: true},
		{name: "form_merged_after_query", method: "POST", target: "/bigbluebutton/api/create?meetingID=a", ctype: "application/x-www-form-urlencoded; charset=UTF-8",
			body: "name=N+1&checksum=c", wantCall: "create", wantParams: "meetingID=a&name=N+1&checksum=c", wantForm: "name=N+1&checksum=c", wantRawQ: "meetingID=a", wantNilBody: true},
		{name: "xml_body_kept", method: "POST", target: "/bigbluebutton/api/create?meetingID=a&checksum=c", ctype: "application/xml",
			body: "<modules><module name=\"presentation\"/></modules>", wantCall: "create", wantParams: "meetingID=a&checksum=c",
			wantBody: "<modules><module name=\"presentation\"/></modules>", wantRawQ: "meetingID=a&checksum=c"},
		{name: "multipart_body_kept", method: "POST", target: "/bigbluebutton/api/putRecordingTextTrack?recordID=r", ctype: "multipart/form-data; boundary=X",
			body: "--X\r\n\r\nv\r\n--X--\r\n", wantCall: "putRecordingTextTrack", wantParams: "recordID=r", wantBody: "--X\r\n\r\nv\r\n--X--\r\n", wantRawQ: "recordID=r"},
		{name: "post_empty_body", method: "POST", target: "/bigbluebutton/api/end?meetingID=a", wantCall: "end", wantParams: "meetingID=a", wantRawQ: "meetingID=a", wantNilBody: true},
		{name: "index", method: "GET", target: "/bigbluebutton/api?checksum=junk", wantCall: "", wantParams: "checksum=junk", wantRawQ: "checksum=junk", wantNilBody: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				hr.Header.Set("Content-Type", tt.ctype)
			}
			r, err := bbb.ReadRequest(hr, 0)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if r.Call != tt.wantCall || r.Method != tt.method || r.RawQuery != tt.wantRawQ || r.ContentType != tt.ctype {
				t.Errorf("got call %q method %q query %q type %q, want %q %q %q %q", r.Call, r.Method, r.RawQuery, r.ContentType,
					tt.wantCall, tt.method, tt.wantRawQ, tt.ctype)
			}
			if got := r.Params.Encode(); got != tt.wantParams {
				t.Errorf("params: got %q, want %q", got, tt.wantParams)
			}
			if got := r.Form.Encode(); got != tt.wantForm {
				t.Errorf("form: got %q, want %q", got, tt.wantForm)
			}
			if tt.wantNilBody && r.Body != nil {
				t.Errorf("body: got %q, want nil", r.Body)
			}
			if !tt.wantNilBody && string(r.Body) != tt.wantBody {
				t.Errorf("body: got %q, want %q", r.Body, tt.wantBody)
			}
		})
	}
}

func TestReadRequest_SizeLimit(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		limit   int64
		wantErr error
	}{
		{name: "at_limit", size: 100, limit: 100},
		{name: "over_limit", size: 101, limit: 100, wantErr: bbb.ErrBodyTooLarge},
		{name: "default_limit", size: 1 << 10, limit: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := httptest.NewRequest("POST", "/bigbluebutton/api/create?meetingID=a", bytes.NewReader(bytes.Repeat([]byte("x"), tt.size)))
			hr.Header.Set("Content-Type", "application/xml")
			r, err := bbb.ReadRequest(hr, tt.limit)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && len(r.Body) != tt.size {
				t.Errorf("body: got %d bytes, want %d", len(r.Body), tt.size)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadRequest_BodyError(t *testing.T) {
	hr := httptest.NewRequest("POST", "/bigbluebutton/api/create", failingReader{})
	if _, err := bbb.ReadRequest(hr, 0); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("got %v, want the read error wrapped", err)
	}
}

func TestMediaType(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "empty", in: "", want: ""},
		{name: "plain", in: "text/xml", want: "text/xml"},
		{name: "params_and_case", in: "Application/X-WWW-Form-Urlencoded; charset=UTF-8", want: "application/x-www-form-urlencoded"},
		{name: "malformed", in: "text/xml; charset", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bbb.MediaType(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequest_CheckContentType(t *testing.T) {
	const (
		form      = "application/x-www-form-urlencoded"
		multipart = "multipart/form-data; boundary=X"
		appXML    = "application/xml"
		textXML   = "text/xml; charset=utf-8"
	)
	tests := []struct {
		name   string
		method string
		call   string
		ctype  string
		body   string
		ok     bool
	}{
		{name: "get_anything", method: "GET", call: "create", ctype: "image/png", body: "x", ok: true},
		{name: "post_no_body", method: "POST", call: "end", ok: true},
		{name: "post_no_body_bad_type", method: "POST", call: "end", ctype: "image/png", ok: true},
		{name: "create_form", method: "POST", call: "create", ctype: form, body: "a=1", ok: true},
		{name: "create_multipart", method: "POST", call: "create", ctype: multipart, body: "--X--", ok: true},
		{name: "create_app_xml", method: "POST", call: "create", ctype: appXML, body: "<modules/>", ok: true},
		{name: "create_text_xml", method: "POST", call: "create", ctype: textXML, body: "<modules/>", ok: true},
		{name: "create_json", method: "POST", call: "create", ctype: "application/json", body: "{}", ok: false},
		{name: "create_missing_type", method: "POST", call: "create", body: "<modules/>", ok: false},
		{name: "end_form", method: "POST", call: "end", ctype: form, body: "meetingID=a", ok: true},
		{name: "end_xml", method: "POST", call: "end", ctype: appXML, body: "<x/>", ok: false},
		{name: "insert_document_xml", method: "POST", call: "insertDocument", ctype: appXML, body: "<modules/>", ok: true},
		{name: "insert_document_text_xml", method: "POST", call: "insertDocument", ctype: textXML, body: "<modules/>", ok: true},
		{name: "insert_document_form", method: "POST", call: "insertDocument", ctype: form, body: "a=1", ok: false},
		{name: "insert_document_multipart", method: "POST", call: "insertDocument", ctype: multipart, body: "--X--", ok: false},
		{name: "put_text_track_multipart", method: "POST", call: "putRecordingTextTrack", ctype: multipart, body: "--X--", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := httptest.NewRequest(tt.method, "/bigbluebutton/api/"+tt.call, strings.NewReader(tt.body))
			if tt.ctype != "" {
				hr.Header.Set("Content-Type", tt.ctype)
			}
			r, err := bbb.ReadRequest(hr, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = r.CheckContentType()
			if tt.ok && err != nil {
				t.Errorf("got %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, bbb.ErrUnsupportedContentType) {
				t.Errorf("got %v, want ErrUnsupportedContentType", err)
			}
		})
	}
}

func TestRequest_ForwardQuery(t *testing.T) {
	tests := []struct {
		name   string
		target string
		form   string
		want   string
	}{
		{name: "checksum_last", target: "?name=A+B&meetingID=x%2Fy&checksum=abc", want: "name=A+B&meetingID=x%2Fy"},
		{name: "checksum_first", target: "?checksum=abc&name=A%20B&meetingID=x", want: "name=A%20B&meetingID=x"},
		{name: "checksum_middle", target: "?name=A&checksum=abc&meetingID=x", want: "name=A&meetingID=x"},
		{name: "no_checksum", target: "?name=A", want: "name=A"},
		{name: "empty", target: "", want: ""},
		{name: "bytes_kept", target: "?a=%7e&b=%7E&c=;&d", want: "a=%7e&b=%7E&c=;&d"},
		{name: "form_appended", target: "?meetingID=x&checksum=abc", form: "name=A+B&record=true", want: "meetingID=x&name=A+B&record=true"},
		{name: "form_checksum_removed", target: "?meetingID=x", form: "name=A&checksum=abc", want: "meetingID=x&name=A"},
		{name: "form_only", target: "", form: "checksum=abc&meetingID=x&name=A", want: "meetingID=x&name=A"},
		{name: "form_only_checksum", target: "?meetingID=x", form: "checksum=abc", want: "meetingID=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodGet
			if tt.form != "" {
				method = http.MethodPost
			}
			hr := httptest.NewRequest(method, "/bigbluebutton/api/create"+tt.target, strings.NewReader(tt.form))
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r, err := bbb.ReadRequest(hr, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ForwardQuery(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
