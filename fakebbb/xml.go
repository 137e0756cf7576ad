package fakebbb

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// apiError is a FAILED answer: a messageKey and a message.
type apiError struct {
	key, message string
}

func (e *apiError) Error() string { return e.key + ": " + e.message }

// The errors this server answers with, keys and messages as bbb-web 2.6+
// (and bbb-webhooks for hooks/*) word them.
var (
	errChecksum             = &apiError{"checksumError", "Checksums do not match"}
	errChecksumRecordings   = &apiError{"checksumError", "You did not pass the checksum security check"}
	errChecksumHooks        = &apiError{"checksumError", "You did not pass the checksum security check."}
	errContentType          = &apiError{"unsupportedContentType", "POST request Content-Type is missing or unsupported"}
	errMissingMeetingID     = &apiError{"missingParamMeetingID", "You must provide a meeting ID"}
	errMeetingIDLength      = &apiError{"validationError", "Meeting ID must be between 2 and 256 characters"}
	errMeetingIDComma       = &apiError{"validationError", "Meeting ID cannot contain ','"}
	errMissingName          = &apiError{"validationError", "You must provide a meeting name"}
	errNameLength           = &apiError{"validationError", "Meeting name must be between 2 and 256 characters"}
	errPasswordLength       = &apiError{"invalidPassword", "Passwords must be between 2 and 64 character in length"}
	errVoiceBridgeFormat    = &apiError{"validationError", "Voice bridge must be an integer"}
	errVoiceBridgeInUse     = &apiError{"nonUniqueVoiceBridge", "The selected voice bridge is already in use."}
	errRecordFormat         = &apiError{"validationError", "Record must be a boolean value (true or false)"}
	errIDNotUnique          = &apiError{"idNotUnique", "A meeting already exists with that meeting ID.  Please use a different meeting ID."}
	errParentMissing        = &apiError{"parentMeetingIdMissing", "No parent meeting ID was provided for the breakout room"}
	errParentNotFound       = &apiError{"parentMeetingDoesNotExist", "No parent meeting exists for the breakout room"}
	errNotFound             = &apiError{"notFound", "A meeting with that ID does not exist"}
	errMissingFullName      = &apiError{"missingParamFullName", "You must specify a name for the attendee who will be joining the meeting."}
	errForciblyEnded        = &apiError{"meetingForciblyEnded", "You can not re-join a meeting that has already been forcibly ended."}
	errMismatchCreateTime   = &apiError{"mismatchCreateTimeParam", "The createTime parameter submitted mismatches with the current meeting."}
	errInvalidPassword      = &apiError{"invalidPassword", "You either did not supply a password or the password supplied is neither the attendee or moderator password for this conference."}
	errMaxParticipants      = &apiError{"maxParticipantsReached", "The number of participants allowed for this meeting has been reached."}
	errGuestDenied          = &apiError{"guestDeniedAccess", "You have been denied access to this meeting based on the meeting's guest policy"}
	errMissingRecordID      = &apiError{"missingParamRecordID", "You must specify a recordID."}
	errMissingPublish       = &apiError{"missingParamPublish", "You must specify a publish value true or false."}
	errRecordingNotFound    = &apiError{"notFound", "We could not find recordings"}
	errChatMessage          = &apiError{"validationError", "Message must be between 1 and 500 characters"}
	errChatUserName         = &apiError{"validationError", "User name must be at most 255 characters"}
	errChatMeetingNotFound  = &apiError{"meetingNotFound", "Meeting not found or not active"}
	errEmptyDocument        = &apiError{"validationError", "The request body must carry a presentation XML document"}
	errBadDocument          = &apiError{"validationError", "The presentation XML document is malformed"}
	errBodyTooLarge         = &apiError{"validationError", "The request body is too large"}
	errUnsupportedRequest   = &apiError{"unsupportedRequest", "This request is not supported."}
	errMissingCallbackURL   = &apiError{"missingParamCallbackURL", "You must specify a callbackURL in the parameters."}
	errCreateHook           = &apiError{"createHookError", "An error happened while creating your hook. Check the logs."}
	errMissingHookID        = &apiError{"missingParamHookID", "You must specify a hookID in the parameters."}
	errDestroyMissingHook   = &apiError{"destroyMissingHook", "The hook informed was not found."}
	errMethodNotAllowed     = &apiError{"unsupportedRequest", "This request method is not supported for this call."}
	errNoRecordingTextTrack = &apiError{"noRecordings", "No recording found"}
)

// xmlBuf builds compact XML without a declaration, the way bbb-web's
// compressed FreeMarker templates render.
type xmlBuf struct {
	b []byte
}

func newXML() *xmlBuf {
	x := &xmlBuf{b: make([]byte, 0, 512)}
	x.open("response")
	return x
}

func (x *xmlBuf) open(name string)  { x.b = append(append(append(x.b, '<'), name...), '>') }
func (x *xmlBuf) close(name string) { x.b = append(append(append(x.b, "</"...), name...), '>') }
func (x *xmlBuf) empty(name string) { x.b = append(append(append(x.b, '<'), name...), "/>"...) }

// el writes <name>escaped value</name>.
func (x *xmlBuf) el(name, value string) {
	x.open(name)
	x.b = appendEscaped(x.b, value)
	x.close(name)
}

func (x *xmlBuf) bool(name string, v bool) { x.el(name, strconv.FormatBool(v)) }
func (x *xmlBuf) int(name string, v int64) { x.el(name, strconv.FormatInt(v, 10)) }

// cdata writes <name><![CDATA[value]]></name>, splitting any "]]>" in value.
func (x *xmlBuf) cdata(name, value string) {
	x.open(name)
	x.b = append(x.b, "<![CDATA["...)
	x.b = append(x.b, strings.ReplaceAll(sanitizeXMLText(value), "]]>", "]]]]><![CDATA[>")...)
	x.b = append(x.b, "]]>"...)
	x.close(name)
}

// bytes closes the response element and returns the document.
func (x *xmlBuf) bytes() []byte {
	x.close("response")
	return x.b
}

// appendEscaped appends s escaped for XML character data and attribute
// values (FreeMarker's XML escaping: & < > " '). Invalid UTF-8 and
// characters XML 1.0 forbids become U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	for _, r := range sanitizeXMLText(s) {
		switch r {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&apos;"...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// sanitizeXMLText replaces invalid UTF-8 and characters not allowed in XML
// 1.0 with U+FFFD.
func sanitizeXMLText(s string) string {
	ok := true
	for _, r := range s {
		if !xmlChar(r) {
			ok = false
			break
		}
	}
	if ok && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !xmlChar(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func xmlChar(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return false
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// validXMLName reports whether s can be used as an element name. It is
// deliberately strict (ASCII letters, digits, '-', '_', '.'; starting with
// a letter or '_'), which covers every BBB metadata and userdata key.
func validXMLName(s string) bool {
	if s == "" || !(isASCIILetter(s[0]) || s[0] == '_') {
		return false
	}
	if len(s) >= 3 && strings.EqualFold(s[:3], "xml") {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// errorXML returns the single-error FAILED document for e.
func errorXML(e *apiError) []byte {
	x := &xmlBuf{}
	x.open("response")
	x.el("returncode", "FAILED")
	x.el("messageKey", e.key)
	x.el("message", e.message)
	return x.bytes()
}

// writeXML writes an XML API answer with bbb-web's headers and status 200.
func writeXML(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml;charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeError writes e as a FAILED XML answer with status 200.
func writeError(w http.ResponseWriter, e *apiError) { writeXML(w, errorXML(e)) }

// writeJSON writes a JSON API answer with status 200.
func writeJSON(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
