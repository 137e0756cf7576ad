package bbb

import (
	"encoding/xml"
	"net/http"
	"strings"
	"unicode/utf16"
)

// Error is a BBB API error: FAILED with a messageKey and message.
type Error struct {
	// Key is the stable messageKey clients branch on.
	Key string
	// Message is the human-readable message.
	Message string
}

func (e *Error) Error() string { return e.Key + ": " + e.Message }

// NewError returns an Error with key and message.
func NewError(key, message string) *Error { return &Error{Key: key, Message: message} }

// Errors a BBB server (or a balancer in front of one) answers with.
var (
	ErrChecksum               = NewError("checksumError", "Checksums do not match")
	ErrUnsupportedContentType = NewError("unsupportedContentType", "POST request Content-Type is missing or unsupported")
	ErrMissingMeetingID       = NewError("missingParamMeetingID", "You must provide a meeting ID")
	ErrMeetingIDLength        = NewError("validationError", "Meeting ID must be between 2 and 256 characters")
	ErrMeetingIDComma         = NewError("validationError", "Meeting ID cannot contain ','")
	ErrMeetingNotFound        = NewError("notFound", "A meeting with that ID does not exist")
	ErrMissingRecordID        = NewError("missingParamRecordID", "You must specify a recordID.")
	ErrMissingPublish         = NewError("missingParamPublish", "You must specify a publish value true or false.")
	ErrRecordingNotFound      = NewError("notFound", "We could not find recordings")
	ErrUnsupportedRequest     = NewError("unsupportedRequest", "This request is not supported.")
	ErrInternal               = NewError("internalError", "An internal error occurred.")
	ErrServerUnavailable      = NewError("serverUnavailable", "The server is unavailable, please try again later.")
	ErrNoServerAvailable      = NewError("noAvailableServer", "No server is available to create the meeting.")
	ErrServerTagUnavailable   = NewError("serverTagUnavailable", "No server with the requested tag is available.")
	ErrBodyLimit              = NewError("validationError", "The request body is too large.")
)

// ValidateMeetingID applies BBB's meetingID constraints: present, 2..256
// characters (counted as Java does, in UTF-16 code units), no comma.
func ValidateMeetingID(id string) *Error {
	n := 0
	for _, r := range id {
		n += utf16.RuneLen(r)
	}
	switch {
	case n == 0:
		return ErrMissingMeetingID
	case n < 2 || n > 256:
		return ErrMeetingIDLength
	case strings.Contains(id, ","):
		return ErrMeetingIDComma
	}
	return nil
}

// Escape returns s escaped for XML character data.
func Escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ErrorXML returns the FAILED response body for e.
func ErrorXML(e *Error) []byte {
	return []byte("<response><returncode>FAILED</returncode><messageKey>" + Escape(e.Key) +
		"</messageKey><message>" + Escape(e.Message) + "</message></response>")
}

// Header values every answer carries. They are shared, not copied, into
// response headers (net/http never modifies header value slices), which
// saves two allocations per answer; nothing may write to them.
var (
	xmlContentType = []string{"text/xml;charset=utf-8"}
	noCache        = []string{"no-cache"}
)

// WriteXML writes an XML API response with BBB's headers and status 200.
func WriteXML(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h["Content-Type"] = xmlContentType
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// WriteError writes e as BBB does: HTTP 200 with FAILED XML.
func WriteError(w http.ResponseWriter, e *Error) { WriteXML(w, ErrorXML(e)) }

// WriteJSONError writes e in the JSON envelope of the JSON calls
// (getRecordingTextTracks, putRecordingTextTrack).
func WriteJSONError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"response":{"returncode":"FAILED","messageKey":` + jsonString(e.Key) +
		`,"message":` + jsonString(e.Message) + `}}`))
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			const hexd = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hexd[r>>4])
			b.WriteByte(hexd[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// IndexXML is the answer to the index call: BBB's version response, without
// a backend's graphql URLs.
const IndexXML = "<response><returncode>SUCCESS</returncode><version>2.0</version><apiVersion>2.0</apiVersion><bbbVersion></bbbVersion></response>"
