package bbb_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestErrorXML(t *testing.T) {
	tests := []struct {
		name string
		err  *bbb.Error
		want string
	}{
		{name: "not_found", err: bbb.ErrMeetingNotFound,
			want: "<response><returncode>FAILED</returncode><messageKey>notFound</messageKey><message>A meeting with that ID does not exist</message></response>"},
		{name: "escaped", err: bbb.NewError("k<&>", `"m" & 'n'`),
			want: "<response><returncode>FAILED</returncode><messageKey>k&lt;&amp;&gt;</messageKey><message>&#34;m&#34; &amp; &#39;n&#39;</message></response>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bbb.ErrorXML(tt.err)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			st, err := bbb.ParseStatus(got)
			if err != nil || st.ReturnCode != "FAILED" || st.MessageKey != tt.err.Key || st.Message != tt.err.Message {
				t.Errorf("parse back: got %+v, %v; want FAILED %q %q", st, err, tt.err.Key, tt.err.Message)
			}
		})
	}
}

func TestErrorCatalogue(t *testing.T) {
	tests := []struct {
		name string
		err  *bbb.Error
		key  string
	}{
		{name: "checksum", err: bbb.ErrChecksum, key: "checksumError"},
		{name: "content_type", err: bbb.ErrUnsupportedContentType, key: "unsupportedContentType"},
		{name: "missing_meeting_id", err: bbb.ErrMissingMeetingID, key: "missingParamMeetingID"},
		{name: "meeting_id_length", err: bbb.ErrMeetingIDLength, key: "validationError"},
		{name: "meeting_id_comma", err: bbb.ErrMeetingIDComma, key: "validationError"},
		{name: "meeting_not_found", err: bbb.ErrMeetingNotFound, key: "notFound"},
		{name: "missing_record_id", err: bbb.ErrMissingRecordID, key: "missingParamRecordID"},
		{name: "missing_publish", err: bbb.ErrMissingPublish, key: "missingParamPublish"},
		{name: "recording_not_found", err: bbb.ErrRecordingNotFound, key: "notFound"},
		{name: "unsupported_request", err: bbb.ErrUnsupportedRequest, key: "unsupportedRequest"},
		{name: "internal", err: bbb.ErrInternal, key: "internalError"},
		{name: "server_unavailable", err: bbb.ErrServerUnavailable, key: "serverUnavailable"},
		{name: "no_server", err: bbb.ErrNoServerAvailable, key: "noAvailableServer"},
		{name: "tag_unavailable", err: bbb.ErrServerTagUnavailable, key: "serverTagUnavailable"},
		{name: "body_limit", err: bbb.ErrBodyLimit, key: "validationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Key != tt.key || tt.err.Message == "" || tt.err.Error() != tt.key+": "+tt.err.Message {
				t.Errorf("got %q / %q / %q, want key %q and a message", tt.err.Key, tt.err.Message, tt.err.Error(), tt.key)
			}
		})
	}
}

func TestWriteXML(t *testing.T) {
	rec := httptest.NewRecorder()
	bbb.WriteError(rec, bbb.ErrChecksum)
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status: got %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("Content-Type"); got != "text/xml;charset=utf-8" {
		t.Errorf("Content-Type: got %q, want text/xml;charset=utf-8", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control: got %q, want no-cache", got)
	}
	if got := rec.Body.String(); got != string(bbb.ErrorXML(bbb.ErrChecksum)) {
		t.Errorf("body: got %s", got)
	}
}

func TestWriteJSONError(t *testing.T) {
	rec := httptest.NewRecorder()
	bbb.WriteJSONError(rec, bbb.NewError("noRecordings", "No \"recording\" \\ found\n\x01"))
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q", got)
	}
	var v struct {
		Response struct {
			ReturnCode string `json:"returncode"`
			MessageKey string `json:"messageKey"`
			Message    string `json:"message"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", rec.Body, err)
	}
	if v.Response.ReturnCode != "FAILED" || v.Response.MessageKey != "noRecordings" || v.Response.Message != "No \"recording\" \\ found\n\x01" {
		t.Errorf("got %+v", v.Response)
	}
	st, _, err := bbb.ParseTextTracks(rec.Body.Bytes())
	if err != nil || st.MessageKey != "noRecordings" {
		t.Errorf("ParseTextTracks: got %+v, %v", st, err)
	}
}

func TestValidateMeetingID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want *bbb.Error
	}{
		{name: "ok", id: "room-1"},
		{name: "two_chars", id: "ab"},
		{name: "max_length", id: strings.Repeat("a", 256)},
		{name: "multibyte_counts_once", id: strings.Repeat("é", 256)},
		{name: "empty", id: "", want: bbb.ErrMissingMeetingID},
		{name: "one_char", id: "a", want: bbb.ErrMeetingIDLength},
		{name: "too_long", id: strings.Repeat("a", 257), want: bbb.ErrMeetingIDLength},
		{name: "comma", id: "a,b", want: bbb.ErrMeetingIDComma},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bbb.ValidateMeetingID(tt.id); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIndexXML(t *testing.T) {
	st, err := bbb.ParseStatus([]byte(bbb.IndexXML))
	if err != nil || !st.OK() {
		t.Errorf("got %+v, %v; want SUCCESS", st, err)
	}
	if !strings.Contains(bbb.IndexXML, "<version>2.0</version>") {
		t.Errorf("IndexXML lacks <version>2.0</version>")
	}
}

func TestEscape(t *testing.T) {
	if got, want := bbb.Escape(`a<b>&"c"`), "a&lt;b&gt;&amp;&#34;c&#34;"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestValidateMeetingID_UTF16KnownBug: bbb-web's @Size(min=2, max=256)
// counts UTF-16 code units (String.length()), so a character outside the
// BMP counts twice; ValidateMeetingID counts runes.
func TestValidateMeetingID_UTF16KnownBug(t *testing.T) {
	if got := bbb.ValidateMeetingID(strings.Repeat("\U0001F600", 200)); got != bbb.ErrMeetingIDLength {
		t.Errorf("200 emoji (400 UTF-16 units): got %v, want ErrMeetingIDLength", got)
	}
}
