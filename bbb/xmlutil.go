package bbb

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Return codes of every BBB answer.
const (
	ReturnSuccess = "SUCCESS"
	ReturnFailed  = "FAILED"
)

// ErrMalformed is wrapped by every parse error caused by a body that is not
// a well-formed BBB answer: not XML (or JSON for the JSON calls), a root
// other than <response>, or no returncode. A well-formed FAILED answer is
// never reported with ErrMalformed; it is reported as an *Error.
var ErrMalformed = errors.New("malformed BBB response")

// Status is the envelope every BBB answer carries: returncode, and for
// errors and some successes a messageKey and message.
type Status struct {
	// ReturnCode is "SUCCESS" or "FAILED" as sent by the server.
	ReturnCode string
	// MessageKey is the machine-readable key; may be empty.
	MessageKey string
	// Message is the human-readable text; may be empty.
	Message string
}

// OK reports whether the answer is a SUCCESS.
func (s Status) OK() bool { return s.ReturnCode == ReturnSuccess }

// Err returns nil for a SUCCESS and an *Error carrying the messageKey and
// message otherwise, so callers can errors.As it and render it unchanged.
func (s Status) Err() error {
	if s.OK() {
		return nil
	}
	return &Error{Key: s.MessageKey, Message: s.Message}
}

// ParseStatus reads the envelope of any XML BBB answer. It returns an
// error wrapping ErrMalformed for a body that is not XML, whose root is not
// <response>, or that has no <returncode>. For the multi-error form
// (<errors><error><key>…) the first error fills MessageKey and Message.
func ParseStatus(body []byte) (Status, error) {
	st, err := walkResponse(body, nil)
	if err != nil {
		return Status{}, fmt.Errorf("parse response: %w", err)
	}
	return st, nil
}

// walker steps through the elements of an XML body while keeping byte
// offsets, so that callers can cut raw elements out of the input.
type walker struct {
	d    *xml.Decoder
	body []byte
	// endStart is the offset of the most recent end tag found by next.
	endStart int64
}

func newWalker(body []byte) *walker {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	return &walker{d: d, body: body}
}

// root advances to the root element and checks that it is called name.
// It returns the offset just past the root's start tag.
func (w *walker) root(name string) (int64, error) {
	for {
		tok, err := w.d.Token()
		if err != nil {
			if err == io.EOF {
				return 0, errors.New("no root element")
			}
			return 0, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != name {
				return 0, fmt.Errorf("root element is <%s>, want <%s>", t.Name.Local, name)
			}
			return w.d.InputOffset(), nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return 0, errors.New("text before the root element")
			}
		}
	}
}

// next returns the next child element of the current element and the
// offset of its '<'. It returns ok == false when the current element ends;
// w.endStart is then the offset of that end tag. The caller must consume
// a returned element completely (text, skip, or next until !ok).
func (w *walker) next() (se xml.StartElement, start int64, ok bool, err error) {
	for {
		start = w.d.InputOffset()
		tok, err := w.d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return xml.StartElement{}, 0, false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, start, true, nil
		case xml.EndElement:
			w.endStart = start
			return xml.StartElement{}, 0, false, nil
		}
	}
}

// text reads the character data of the element just returned by next up
// to its end tag. Text inside nested elements is ignored.
func (w *walker) text() (string, error) {
	var (
		first string
		buf   []byte
		n     int
		depth int
	)
	for {
		tok, err := w.d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth == 0 {
				if n > 1 {
					return string(buf), nil
				}
				return first, nil
			}
			depth--
		case xml.CharData:
			if depth != 0 || len(t) == 0 {
				continue
			}
			switch n++; n {
			case 1:
				first = string(t)
			case 2:
				buf = append(append(buf, first...), t...)
			default:
				buf = append(buf, t...)
			}
		}
	}
}

// skip consumes the rest of the element just returned by next.
func (w *walker) skip() error {
	if err := w.d.Skip(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// offset is the input offset just past the last token read.
func (w *walker) offset() int64 { return w.d.InputOffset() }

// span is a half-open byte range of the body.
type span struct{ start, end int64 }

// responseInfo describes where the parts of a <response> are in the body.
type responseInfo struct {
	// inner is the range between <response> and </response>.
	inner span
	// envelope holds the ranges of the returncode, messageKey, message and
	// errors elements.
	envelope []span
}

// childFunc handles one child of <response>. It must consume the element.
type childFunc func(w *walker, se xml.StartElement, start int64) error

// walkResponse parses body as a BBB <response>, recording returncode,
// messageKey and message, and hands every other child to fn (or skips it
// if fn is nil). Errors wrap ErrMalformed.
func walkResponse(body []byte, fn childFunc) (Status, error) {
	st, _, err := walkResponseInfo(body, fn)
	return st, err
}

func walkResponseInfo(body []byte, fn childFunc) (Status, responseInfo, error) {
	var (
		st   Status
		info responseInfo
		rc   bool
	)
	body = trimBOM(body)
	w := newWalker(body)
	innerStart, err := w.root("response")
	if err != nil {
		return st, info, malformed(err)
	}
	for {
		se, start, ok, err := w.next()
		if err != nil {
			return st, info, malformed(err)
		}
		if !ok {
			break
		}
		var v *string
		switch se.Name.Local {
		case "returncode":
			v, rc = &st.ReturnCode, true
		case "messageKey":
			v = &st.MessageKey
		case "message":
			v = &st.Message
		case "errors":
			key, msg, err := firstError(w)
			if err != nil {
				return st, info, malformed(err)
			}
			if st.MessageKey == "" && st.Message == "" {
				st.MessageKey, st.Message = key, msg
			}
			info.envelope = append(info.envelope, span{start, w.offset()})
			continue
		}
		if v != nil {
			s, err := w.text()
			if err != nil {
				return st, info, malformed(err)
			}
			*v = s
			info.envelope = append(info.envelope, span{start, w.offset()})
			continue
		}
		if fn == nil {
			err = w.skip()
		} else {
			err = fn(w, se, start)
		}
		if err != nil {
			return st, info, malformed(err)
		}
	}
	if !rc {
		return st, info, malformed(errors.New("no returncode"))
	}
	info.inner = span{innerStart, w.endStart}
	return st, info, nil
}

// firstError reads an <errors> element and returns the key and message of
// its first <error>.
func firstError(w *walker) (key, msg string, err error) {
	found := false
	for {
		se, _, ok, err := w.next()
		if err != nil {
			return "", "", err
		}
		if !ok {
			return key, msg, nil
		}
		if se.Name.Local != "error" || found {
			if err := w.skip(); err != nil {
				return "", "", err
			}
			continue
		}
		found = true
		for {
			ce, _, ok, err := w.next()
			if err != nil {
				return "", "", err
			}
			if !ok {
				break
			}
			var s string
			if s, err = w.text(); err != nil {
				return "", "", err
			}
			switch ce.Name.Local {
			case "key":
				key = s
			case "message":
				msg = s
			}
		}
	}
}

// malformed wraps a decoding error so that callers can errors.Is it
// against ErrMalformed and still see the cause.
func malformed(err error) error {
	if errors.Is(err, ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

var bom = []byte("\xef\xbb\xbf")

func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, bom) }

// Field decoding is lenient, as clients are: a value that does not parse
// leaves the zero value rather than rejecting the whole answer.

func parseInt64(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func parseInt(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

func parseBool(s string) bool {
	return strings.TrimSpace(s) == "true"
}

// appendEscaped appends s escaped as XML character data. Characters XML
// cannot carry (most control characters, invalid UTF-8) become U+FFFD so
// the output is always well-formed.
func appendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case r == '&':
			esc = "&amp;"
		case r == '<':
			esc = "&lt;"
		case r == '>':
			esc = "&gt;"
		case r == '"':
			esc = "&quot;"
		case r == '\'':
			esc = "&apos;"
		case r == '\r':
			esc = "&#xD;"
		case r == utf8.RuneError && width == 1, !validXMLChar(r):
			esc = "\uFFFD"
		default:
			i += width
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		i += width
		last = i
	}
	return append(dst, s[last:]...)
}

// validXMLChar reports whether r is in XML 1.0's Char production.
func validXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
