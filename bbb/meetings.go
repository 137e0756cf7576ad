package bbb

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MeetingEntry is one meeting as a BBB server reports it in getMeetings or
// getMeetingInfo: the few fields tinyscale acts on, plus the raw element so
// that nothing the server sent is lost when answers are merged.
type MeetingEntry struct {
	// MeetingID is the external meeting ID the client chose.
	MeetingID string
	// InternalID is sha1hex(MeetingID) + "-" + CreateTime (internalMeetingID).
	InternalID string
	// ParentMeetingID is set for breakout rooms (the parent's internal ID).
	ParentMeetingID string
	// CreateTime is the creation time in Unix milliseconds.
	CreateTime int64
	// Running is true while at least one user is in the meeting.
	Running bool
	// IsBreakout reports whether the meeting is a breakout room.
	IsBreakout bool
	// Participants is participantCount.
	Participants int
	// Moderators is moderatorCount.
	Moderators int
	// Metadata maps the children of <metadata> (lower-cased meta keys, as
	// BBB stores them) to their text, untrimmed. Nil if there are none.
	Metadata map[string]string
	// Raw is the complete <meeting>…</meeting> element, byte for byte.
	// For ParseMeetings it shares memory with the parsed body; for
	// ParseMeetingInfo it is newly allocated.
	Raw []byte
}

// meetingField decodes one child of a meeting into e. It reports false for
// children it does not know, which the caller skips.
func meetingField(w *walker, se xml.StartElement, e *MeetingEntry) (bool, error) {
	var dst *string
	switch se.Name.Local {
	case "meetingID":
		dst = &e.MeetingID
	case "internalMeetingID":
		dst = &e.InternalID
	case "parentMeetingID":
		dst = &e.ParentMeetingID
	case "metadata":
		m, err := readMetadata(w, e.Metadata)
		e.Metadata = m
		return true, err
	case "createTime", "running", "isBreakout", "participantCount", "moderatorCount":
	default:
		return false, nil
	}
	s, err := w.text()
	if err != nil {
		return true, err
	}
	switch se.Name.Local {
	case "createTime":
		e.CreateTime = parseInt64(s)
	case "running":
		e.Running = parseBool(s)
	case "isBreakout":
		e.IsBreakout = parseBool(s)
	case "participantCount":
		e.Participants = parseInt(s)
	case "moderatorCount":
		e.Moderators = parseInt(s)
	default:
		*dst = s
	}
	return true, nil
}

// readMetadata reads the children of a <metadata> element into m
// (allocated on first use).
func readMetadata(w *walker, m map[string]string) (map[string]string, error) {
	for {
		se, _, ok, err := w.next()
		if err != nil || !ok {
			return m, err
		}
		v, err := w.text()
		if err != nil {
			return m, err
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[se.Name.Local] = v
	}
}

// ParseMeetings decodes a getMeetings answer. The empty answer (noMeetings)
// yields no entries and no error. A FAILED answer yields an error wrapping
// an *Error with the server's messageKey and message; a body that is not a
// BBB answer yields an error wrapping ErrMalformed. Children of <meetings>
// other than <meeting> are ignored.
//
// It accepts exactly the bodies encoding/xml (strict mode) accepts and
// decodes them as it would, up to the end of <response> (what follows is
// not read), but it scans the bytes itself: the cost is a few
// allocations per meeting rather than hundreds.
func ParseMeetings(body []byte) ([]MeetingEntry, error) {
	return scanMeetings(body, allFields)
}

// ParseMeetingsWithoutMetadata is ParseMeetings for callers that do not
// need Metadata, which it leaves nil; everything else, errors included,
// is the same. It saves the allocations of the metadata maps.
func ParseMeetingsWithoutMetadata(body []byte) ([]MeetingEntry, error) {
	return scanMeetings(body, noMetadata)
}

// eachChild calls fn for every child of the current element named name
// (fn must consume it) and skips the other children.
func eachChild(w *walker, name string, fn func(start int64) error) error {
	for {
		se, start, ok, err := w.next()
		if err != nil || !ok {
			return err
		}
		if se.Name.Local != name {
			if err := w.skip(); err != nil {
				return err
			}
			continue
		}
		if err := fn(start); err != nil {
			return err
		}
	}
}

// ParseMeetingInfo decodes a getMeetingInfo answer. A well-formed FAILED
// answer (such as notFound) is not an error: st reports it and the entry
// is zero. A body that is not a BBB answer yields an error wrapping
// ErrMalformed.
//
// The entry's Raw is the answer turned into a getMeetings <meeting>
// element: the children of <response> without returncode, messageKey,
// message and errors, wrapped in <meeting>…</meeting>. It can be passed to
// MeetingsXML.
func ParseMeetingInfo(body []byte) (MeetingEntry, Status, error) {
	body = trimBOM(body)
	var e MeetingEntry
	st, info, err := walkResponseInfo(body, func(w *walker, se xml.StartElement, _ int64) error {
		known, err := meetingField(w, se, &e)
		if err != nil || known {
			return err
		}
		return w.skip()
	})
	if err != nil {
		return MeetingEntry{}, Status{}, fmt.Errorf("parse getMeetingInfo: %w", err)
	}
	if !st.OK() {
		return MeetingEntry{}, st, nil
	}
	const open, closing = "<meeting>", "</meeting>"
	raw := make([]byte, 0, len(open)+int(info.inner.end-info.inner.start)+len(closing))
	raw = append(raw, open...)
	pos := info.inner.start
	for _, s := range info.envelope {
		raw = append(raw, body[pos:s.start]...)
		pos = s.end
	}
	raw = append(raw, body[pos:info.inner.end]...)
	e.Raw = append(raw, closing...)
	return e, st, nil
}

// The getMeetings answer with no meetings, byte for byte as bbb-web sends it.
const noMeetingsXML = "<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey><message>no meetings were found on this server</message></response>"

// The parts of a getMeetings SUCCESS answer around its <meeting> elements.
const (
	meetingsHead = "<response><returncode>SUCCESS</returncode><meetings>"
	meetingsTail = "</meetings></response>"
)

// MeetingsXML builds a getMeetings SUCCESS answer from raw <meeting>
// elements, in the order given. With no elements it returns BBB's exact
// empty answer (<meetings/> with messageKey noMeetings). The elements are
// copied unchanged; they must each be one well-formed element.
func MeetingsXML(entries [][]byte) []byte {
	if len(entries) == 0 {
		return []byte(noMeetingsXML)
	}
	n := len(meetingsHead) + len(meetingsTail)
	for _, e := range entries {
		n += len(e)
	}
	out := make([]byte, 0, n)
	out = append(out, meetingsHead...)
	for _, e := range entries {
		out = append(out, e...)
	}
	return append(out, meetingsTail...)
}

// WriteMeetingsXML writes the answer MeetingsXML(entries) returns to w,
// without building it: the head, each element, the tail. It returns the
// first write error.
func WriteMeetingsXML(w io.Writer, entries [][]byte) error {
	if len(entries) == 0 {
		_, err := io.WriteString(w, noMeetingsXML)
		return err
	}
	if _, err := io.WriteString(w, meetingsHead); err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := w.Write(e); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, meetingsTail)
	return err
}

// MergeMeetings merges getMeetings answers from several servers into one:
// every <meeting> element of every body, byte for byte, in body order. It
// fails if any body is not a SUCCESS getMeetings answer, naming the index
// of the first bad body; callers that tolerate failing servers should
// call ParseMeetings per body and MeetingsXML on the raw elements instead.
func MergeMeetings(bodies [][]byte) ([]byte, error) {
	var all [][]byte
	for i, b := range bodies {
		entries, err := scanMeetings(b, rawOnly)
		if err != nil {
			return nil, fmt.Errorf("merge meetings: body %d: %w", i, err)
		}
		for _, e := range entries {
			all = append(all, e.Raw)
		}
	}
	return MeetingsXML(all), nil
}

// The getMeetings scanner.
//
// getMeetings is the largest answer tinyscale reads: the poller reads every
// server's every round and the gateway merges all of them, and a busy
// server's answer runs to hundreds of kB, most of it <attendees>.
// encoding/xml allocates for every token, so the scanner below reads the
// bytes itself. It is a validating tokenizer that accepts exactly what
// encoding/xml's Decoder in strict mode (no Entity map, no CharsetReader)
// accepts, token by token, so that ParseMeetings answers as the
// encoding/xml implementation did on every input; the differential fuzz
// test in meetings_scan_test.go checks this against that implementation.
// Text is decoded (entity and character references, "\r\n" as "\n") only
// where a field needs it.

// What scanMeetings decodes of each meeting besides Raw.
const (
	rawOnly    = iota // nothing: only Raw
	noMetadata        // every field but Metadata
	allFields         // every field
)

// scanMeetings parses a getMeetings answer, decoding what mode says of each
// meeting. Whatever the mode, the whole answer is checked.
func scanMeetings(body []byte, mode int) ([]MeetingEntry, error) {
	s := scanner{b: trimBOM(body), mode: mode}
	out, st, err := s.meetingsAnswer()
	if err != nil {
		return nil, fmt.Errorf("parse getMeetings: %w", malformed(err))
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("getMeetings: %w", err)
	}
	return out, nil
}

// meetingsAnswer reads a <response>: its status and the <meeting> elements
// of its <meetings> children.
func (s *scanner) meetingsAnswer() ([]MeetingEntry, Status, error) {
	var (
		st  Status
		out []MeetingEntry
		rc  bool
	)
	root, err := s.root("response")
	if err != nil {
		return nil, st, err
	}
	if root.empty {
		return nil, st, errors.New("no returncode")
	}
	for {
		t, ok, err := s.child()
		if err != nil {
			return nil, st, err
		}
		if !ok {
			break
		}
		switch s.local(t) {
		case "returncode":
			rc = true
			st.ReturnCode, err = s.textString(t)
		case "messageKey":
			st.MessageKey, err = s.textString(t)
		case "message":
			st.Message, err = s.textString(t)
		case "errors":
			var key, msg string
			key, msg, err = s.firstError(t)
			if err == nil && st.MessageKey == "" && st.Message == "" {
				st.MessageKey, st.Message = key, msg
			}
		case "meetings":
			out, err = s.meetings(t, out)
		default:
			err = s.skip(t)
		}
		if err != nil {
			return nil, st, err
		}
	}
	if !rc {
		return nil, st, errors.New("no returncode")
	}
	return out, st, nil
}

// firstError reads an <errors> element whose start tag t was just read and
// returns the key and message of its first <error>.
func (s *scanner) firstError(t token) (key, msg string, err error) {
	if t.empty {
		return "", "", nil
	}
	found := false
	for {
		e, ok, err := s.child()
		if err != nil || !ok {
			return key, msg, err
		}
		if found || s.local(e) != "error" {
			if err := s.skip(e); err != nil {
				return "", "", err
			}
			continue
		}
		found = true
		if e.empty {
			continue
		}
		for {
			c, ok, err := s.child()
			if err != nil {
				return "", "", err
			}
			if !ok {
				break
			}
			v, err := s.text(c)
			if err != nil {
				return "", "", err
			}
			switch s.local(c) {
			case "key":
				key = string(v)
			case "message":
				msg = string(v)
			}
		}
	}
}

// meetings reads a <meetings> element whose start tag t was just read and
// appends its <meeting> children to out.
func (s *scanner) meetings(t token, out []MeetingEntry) ([]MeetingEntry, error) {
	if t.empty {
		return out, nil
	}
	for {
		c, ok, err := s.child()
		if err != nil || !ok {
			return out, err
		}
		if s.local(c) != "meeting" {
			if err := s.skip(c); err != nil {
				return out, err
			}
			continue
		}
		var e MeetingEntry
		if s.mode != rawOnly {
			err = s.meeting(c, &e)
		} else {
			err = s.skip(c)
		}
		if err != nil {
			return out, err
		}
		end := s.pos
		e.Raw = s.b[c.start:end:end]
		out = append(out, e)
	}
}

// meeting reads the children of a <meeting> element whose start tag t was
// just read into e, as meetingField does.
func (s *scanner) meeting(t token, e *MeetingEntry) error {
	if t.empty {
		return nil
	}
	for {
		c, ok, err := s.child()
		if err != nil || !ok {
			return err
		}
		var v []byte
		switch s.local(c) {
		case "meetingID":
			e.MeetingID, err = s.textString(c)
		case "internalMeetingID":
			e.InternalID, err = s.textString(c)
		case "parentMeetingID":
			e.ParentMeetingID, err = s.textString(c)
		case "metadata":
			if s.mode == allFields {
				err = s.metadata(c, e)
			} else {
				err = s.skip(c)
			}
		case "createTime":
			v, err = s.text(c)
			e.CreateTime = atoi64(v)
		case "running":
			v, err = s.text(c)
			e.Running = isTrue(v)
		case "isBreakout":
			v, err = s.text(c)
			e.IsBreakout = isTrue(v)
		case "participantCount":
			v, err = s.text(c)
			e.Participants = int(atoi64(v))
		case "moderatorCount":
			v, err = s.text(c)
			e.Moderators = int(atoi64(v))
		default:
			err = s.skip(c)
		}
		if err != nil {
			return err
		}
	}
}

// metadata reads the children of a <metadata> element whose start tag t
// was just read into e.Metadata (allocated on first use).
func (s *scanner) metadata(t token, e *MeetingEntry) error {
	if t.empty {
		return nil
	}
	for {
		c, ok, err := s.child()
		if err != nil || !ok {
			return err
		}
		v, err := s.text(c)
		if err != nil {
			return err
		}
		if e.Metadata == nil {
			e.Metadata = make(map[string]string)
		}
		e.Metadata[string(s.b[c.local:c.end])] = string(v)
	}
}

// atoi64 is strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64) with
// 0 for anything that does not parse (see parseInt64), without the copy.
func atoi64(b []byte) int64 {
	b = bytes.TrimSpace(b)
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0
	}
	const limit = 1 << 63
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' || n > limit/10 {
			return 0
		}
		n = n*10 + uint64(c-'0')
		if n > limit {
			return 0
		}
	}
	switch {
	case neg:
		return -int64(n) // n == limit gives math.MinInt64, as it should
	case n == limit:
		return 0
	}
	return int64(n)
}

// isTrue is parseBool without the copy.
func isTrue(b []byte) bool { return string(bytes.TrimSpace(b)) == "true" }

// scanner is a validating XML tokenizer over a whole body. It keeps the
// raw names of the open elements to match end tags, and a buffer for
// decoded text. Methods stop at the first error; the scanner must not be
// used after one.
type scanner struct {
	b    []byte
	pos  int        // offset of the next token
	open []nameSpan // names of the open elements, innermost last
	buf  []byte     // decoded text, reused
	mode int        // what scanMeetings decodes
}

// nameSpan is the raw name of an element: b[a:end].
type nameSpan struct{ a, end int }

// tokenKind is the kind of a token.
type tokenKind uint8

const (
	tokEOF   tokenKind = iota
	tokText            // character data; content b[a:end]
	tokCDATA           // CDATA section; content b[a:end]
	tokStart           // start tag; name b[a:end], local name b[local:end]
	tokEnd             // end tag; name b[a:end]
	tokOther           // comment, processing instruction or directive
)

// token is one token of the body.
type token struct {
	kind   tokenKind
	start  int // offset of the token's first byte ('<' of a tag)
	a, end int
	local  int
	empty  bool // a self-closing start tag (<x/>): it has no content
	plain  bool // text or CDATA without references or '\r': the raw bytes are the text
}

// syntaxError is a body that is not well-formed XML.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("XML syntax error at offset %d: %s", e.off, e.msg)
}

func (s *scanner) fail(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func (s *scanner) eof() error { return s.fail(len(s.b), "unexpected EOF") }

// local returns the local name (after the prefix) of a start tag as a
// string that must not be kept: switch and == on it do not allocate.
func (s *scanner) local(t token) string { return string(s.b[t.local:t.end]) }

// root reads up to the start tag of the root element and checks that its
// local name is name. Before it, only comments, processing instructions,
// directives and white space (after decoding) may come.
func (s *scanner) root(name string) (token, error) {
	for {
		t, err := s.next()
		if err != nil {
			return t, err
		}
		switch t.kind {
		case tokEOF:
			return t, errors.New("no root element")
		case tokText, tokCDATA:
			raw := s.b[t.a:t.end]
			if !t.plain {
				s.buf = appendText(s.buf[:0], raw, t.kind == tokCDATA)
				raw = s.buf
			}
			if len(bytes.TrimSpace(raw)) != 0 {
				return t, errors.New("text before the root element")
			}
		case tokStart:
			if s.local(t) != name {
				return t, fmt.Errorf("root element is <%s>, want <%s>", s.b[t.local:t.end], name)
			}
			return t, nil
		}
	}
}

// child returns the next child element of the current element, skipping
// text, comments and the like; ok is false once the current element's end
// tag has been read. The caller must consume a returned element (text,
// skip, or child until !ok) unless it is empty.
func (s *scanner) child() (t token, ok bool, err error) {
	for {
		t, err = s.next()
		if err != nil {
			return t, false, err
		}
		switch t.kind {
		case tokStart:
			return t, true, nil
		case tokEnd:
			return t, false, nil
		case tokEOF:
			return t, false, s.eof()
		}
	}
}

// skip consumes the rest of the element whose start tag t was just read.
func (s *scanner) skip(t token) error {
	if t.empty {
		return nil
	}
	depth := len(s.open)
	for {
		u, err := s.next()
		if err != nil {
			return err
		}
		switch {
		case u.kind == tokEOF:
			return s.eof()
		case u.kind == tokEnd && len(s.open) < depth:
			return nil
		}
	}
}

// text reads the character data directly inside the element whose start
// tag t was just read, up to its end tag, decoded; text inside child
// elements is left out. The result is valid until the next call.
func (s *scanner) text(t token) ([]byte, error) {
	if t.empty {
		return nil, nil
	}
	depth := len(s.open)
	var single []byte // the only segment so far, if it needs no decoding
	n := 0
	s.buf = s.buf[:0]
	for {
		u, err := s.next()
		if err != nil {
			return nil, err
		}
		switch u.kind {
		case tokEOF:
			return nil, s.eof()
		case tokText, tokCDATA:
			if len(s.open) != depth || u.a == u.end {
				continue
			}
			raw := s.b[u.a:u.end]
			if n++; n == 1 && u.plain {
				single = raw
				continue
			}
			if single != nil {
				s.buf = append(s.buf, single...)
				single = nil
			}
			s.buf = appendText(s.buf, raw, u.kind == tokCDATA)
		case tokEnd:
			if len(s.open) >= depth {
				continue
			}
			if single != nil {
				return single, nil
			}
			return s.buf, nil
		}
	}
}

// textString is text as a string.
func (s *scanner) textString(t token) (string, error) {
	v, err := s.text(t)
	return string(v), err
}

// next reads one token. It returns tokEOF at the end of the body; the
// callers decide whether that is an error.
func (s *scanner) next() (token, error) {
	b, i := s.b, s.pos
	if i >= len(b) {
		return token{kind: tokEOF, start: i}, nil
	}
	if b[i] != '<' {
		end, plain, err := s.scanText(i)
		if err != nil {
			return token{}, err
		}
		s.pos = end
		return token{kind: tokText, start: i, a: i, end: end, plain: plain}, nil
	}
	if i+1 >= len(b) {
		return token{}, s.eof()
	}
	switch b[i+1] {
	case '/':
		return s.endTag(i)
	case '?':
		return s.procInst(i)
	case '!':
		return s.bang(i)
	}
	return s.startTag(i)
}

// Classes of bytes in character data.
const (
	ccPlain   = iota // a character with no special meaning
	ccLT             // '<'
	ccAmp            // '&'
	ccCR             // '\r', read as '\n'
	ccBracket        // ']', which must not start "]]>"
	ccCtl            // a control character XML does not allow
	ccHigh           // a byte of a multi-byte UTF-8 sequence (or invalid)
)

var textClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = ccHigh
		case c == '<':
			t[c] = ccLT
		case c == '&':
			t[c] = ccAmp
		case c == '\r':
			t[c] = ccCR
		case c == ']':
			t[c] = ccBracket
		case c < 0x20 && c != '\t' && c != '\n':
			t[c] = ccCtl
		}
	}
	return t
}()

// scanText finds the end of the character data starting at i (the next
// '<' or the end of the body) and checks it: valid UTF-8, only characters
// XML allows, well-formed references to the five predefined entities or
// to characters, and no "]]>". plain reports that it has no reference
// and no '\r'.
func (s *scanner) scanText(i int) (end int, plain bool, err error) {
	b := s.b
	plain = true
	for i < len(b) {
		switch textClass[b[i]] {
		case ccPlain:
			i++
		case ccLT:
			return i, plain, nil
		case ccAmp:
			_, n, ok := reference(b, i)
			if !ok {
				return 0, false, s.fail(i, "invalid character entity")
			}
			i, plain = n, false
		case ccCR:
			i, plain = i+1, false
		case ccBracket:
			if i+2 < len(b) && b[i+1] == ']' && b[i+2] == '>' {
				return 0, false, s.fail(i, "unescaped ]]> not in CDATA section")
			}
			i++
		case ccCtl:
			return 0, false, s.fail(i, "illegal character code")
		default:
			n, ok := validRune(b, i)
			if !ok {
				return 0, false, s.fail(i, "invalid UTF-8 or illegal character code")
			}
			i += n
		}
	}
	return i, plain, nil
}

// validRune checks the multi-byte UTF-8 sequence at b[i] and returns its
// length: it must be valid and an XML character (not U+FFFE or U+FFFF;
// valid UTF-8 holds no surrogates).
func validRune(b []byte, i int) (int, bool) {
	r, n := utf8.DecodeRune(b[i:])
	if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
		return 0, false
	}
	return n, true
}

// checkChars checks that b (CDATA content) holds only characters XML
// allows, in valid UTF-8, and reports whether it has no '\r'.
func (s *scanner) checkChars(b []byte, off int) (plain bool, err error) {
	plain = true
	for i := 0; i < len(b); {
		switch textClass[b[i]] {
		case ccCtl:
			return false, s.fail(off+i, "illegal character code")
		case ccCR:
			plain = false
			i++
		case ccHigh:
			n, ok := validRune(b, i)
			if !ok {
				return false, s.fail(off+i, "invalid UTF-8 or illegal character code")
			}
			i += n
		default:
			i++
		}
	}
	return plain, nil
}

// reference reads the reference at b[i] == '&' as encoding/xml does in
// strict mode: &lt; &gt; &amp; &apos; &quot;, &#decimal; or &#xhex; of a
// character XML allows (a surrogate stands for U+FFFD, as Go's
// string(rune) makes it). It returns the character and the offset after
// the ';'; ok is false for anything else, including the end of b.
func reference(b []byte, i int) (r rune, next int, ok bool) {
	j := i + 1
	if j >= len(b) {
		return 0, 0, false
	}
	if b[j] == '#' {
		j++
		var base uint64 = 10
		if j < len(b) && b[j] == 'x' {
			base = 16
			j++
		}
		start := j
		var n uint64
	digits:
		for ; j < len(b); j++ {
			c := b[j]
			var d byte
			switch {
			case '0' <= c && c <= '9':
				d = c - '0'
			case base == 16 && 'a' <= c && c <= 'f':
				d = c - 'a' + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = c - 'A' + 10
			default:
				break digits
			}
			if n <= utf8.MaxRune { // beyond it, it stays beyond
				n = n*base + uint64(d)
			}
		}
		if j >= len(b) || b[j] != ';' || j == start || n > utf8.MaxRune {
			return 0, 0, false
		}
		r = rune(n)
		if 0xD800 <= r && r <= 0xDFFF {
			r = utf8.RuneError
		}
		if !validXMLChar(r) {
			return 0, 0, false
		}
		return r, j + 1, true
	}
	start := j
	for j < len(b) && nameByte[b[j]] {
		j++
	}
	if j >= len(b) || b[j] != ';' {
		return 0, 0, false
	}
	switch string(b[start:j]) {
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "amp":
		r = '&'
	case "apos":
		r = '\''
	case "quot":
		r = '"'
	default:
		return 0, 0, false
	}
	return r, j + 1, true
}

// appendText appends raw character data, already checked by scanText (or
// CDATA content, with cdata), decoded: references resolved, "\r\n" and
// a lone '\r' read as '\n'.
func appendText(dst, raw []byte, cdata bool) []byte {
	for len(raw) > 0 {
		var i int
		if cdata {
			i = bytes.IndexByte(raw, '\r')
		} else {
			i = bytes.IndexAny(raw, "&\r")
		}
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		if raw[i] == '\r' {
			dst = append(dst, '\n')
			raw = raw[i+1:]
			if len(raw) > 0 && raw[0] == '\n' {
				raw = raw[1:]
			}
			continue
		}
		r, n, _ := reference(raw, i)
		dst = utf8.AppendRune(dst, r)
		raw = raw[n:]
	}
	return dst
}

// nameByte reports the bytes encoding/xml reads as part of a name: ASCII
// letters and digits, '_', ':', '.', '-', and every non-ASCII byte (whose
// characters are then checked by validName).
var nameByte = func() (t [256]bool) {
	for c := range t {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-' || c >= utf8.RuneSelf
	}
	return t
}()

// validName reports whether name (a run of nameByte bytes) is an XML name
// as encoding/xml defines it. An ASCII name only needs the right first
// character. Names with other characters (ascii false) are rare and need
// the long character tables of XML 1.0, so encoding/xml, which holds
// them, is asked.
func validName(name []byte, ascii bool) bool {
	if !ascii {
		in := make([]byte, 0, len(name)+4)
		in = append(append(append(in, "<?"...), name...), "?>"...)
		_, err := xml.NewDecoder(bytes.NewReader(in)).RawToken()
		return err == nil
	}
	c := name[0]
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_' || c == ':'
}

// name reads the name at b[i] and returns the offset after it. With ns, it
// is an element or attribute name: at most one ':', and local is where
// the local name starts (after "prefix:" when both parts are non-empty).
func (s *scanner) name(i int, ns bool) (end, local int, err error) {
	b := s.b
	j := s.nameEnd(i)
	switch {
	case j >= len(b):
		return 0, 0, s.eof()
	case j == i:
		return 0, 0, s.fail(i, "expected a name")
	}
	var or byte
	for _, c := range b[i:j] {
		or |= c
	}
	if !validName(b[i:j], or < utf8.RuneSelf) {
		return 0, 0, s.fail(i, "invalid XML name")
	}
	local = i
	if ns {
		if c := bytes.IndexByte(b[i:j], ':'); c >= 0 {
			if bytes.IndexByte(b[i+c+1:j], ':') >= 0 {
				return 0, 0, s.fail(i, "name with more than one ':'")
			}
			if c > 0 && i+c+1 < j {
				local = i + c + 1
			}
		}
	}
	return j, local, nil
}

// nameEnd returns the offset after the run of name bytes at b[i].
func (s *scanner) nameEnd(i int) int {
	b := s.b
	for i < len(b) && nameByte[b[i]] {
		i++
	}
	return i
}

// space returns the offset of the first byte at or after i that is not
// XML white space.
func (s *scanner) space(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// startTag reads the start tag at b[i] == '<'. Attributes are checked,
// not kept.
func (s *scanner) startTag(i int) (token, error) {
	b := s.b
	end, local, err := s.name(i+1, true)
	if err != nil {
		return token{}, err
	}
	t := token{kind: tokStart, start: i, a: i + 1, end: end, local: local}
	j := end
	for {
		j = s.space(j)
		if j >= len(b) {
			return t, s.eof()
		}
		switch b[j] {
		case '/':
			if j+1 >= len(b) {
				return t, s.eof()
			}
			if b[j+1] != '>' {
				return t, s.fail(j, "expected /> in element")
			}
			t.empty = true
			s.pos = j + 2
			return t, nil
		case '>':
			s.open = append(s.open, nameSpan{t.a, t.end})
			s.pos = j + 1
			return t, nil
		}
		if j, _, err = s.name(j, true); err != nil {
			return t, err
		}
		if j = s.space(j); j >= len(b) {
			return t, s.eof()
		}
		if b[j] != '=' {
			return t, s.fail(j, "attribute name without = in element")
		}
		if j = s.space(j + 1); j >= len(b) {
			return t, s.eof()
		}
		q := b[j]
		if q != '"' && q != '\'' {
			return t, s.fail(j, "unquoted or missing attribute value in element")
		}
		if j, err = s.attrValue(j+1, q); err != nil {
			return t, err
		}
	}
}

// attrValue checks the attribute value at b[i] up to the quote q and
// returns the offset after the quote.
func (s *scanner) attrValue(i int, q byte) (int, error) {
	b := s.b
	for i < len(b) {
		c := b[i]
		if c == q {
			return i + 1, nil
		}
		switch textClass[c] {
		case ccLT:
			return 0, s.fail(i, "unescaped < inside quoted string")
		case ccAmp:
			_, n, ok := reference(b, i)
			if !ok {
				return 0, s.fail(i, "invalid character entity")
			}
			i = n
		case ccCtl:
			return 0, s.fail(i, "illegal character code")
		case ccHigh:
			n, ok := validRune(b, i)
			if !ok {
				return 0, s.fail(i, "invalid UTF-8 or illegal character code")
			}
			i += n
		default:
			i++
		}
	}
	return 0, s.eof()
}

// endTag reads the end tag at b[i:] == "</" and checks that it closes the
// innermost open element.
func (s *scanner) endTag(i int) (token, error) {
	b := s.b
	// The name needs no check of its own: if it is the open element's
	// name, that was checked; if not, it is an error either way.
	end := s.nameEnd(i + 2)
	if end == i+2 {
		if end >= len(b) {
			return token{}, s.eof()
		}
		return token{}, s.fail(i, "expected element name after </")
	}
	n := len(s.open)
	if n == 0 {
		return token{}, s.fail(i, "unexpected end element")
	}
	if top := s.open[n-1]; !bytes.Equal(b[top.a:top.end], b[i+2:end]) {
		return token{}, s.fail(i, "element closed by another element's end tag")
	}
	j := s.space(end)
	if j >= len(b) {
		return token{}, s.eof()
	}
	if b[j] != '>' {
		return token{}, s.fail(j, "invalid characters in end tag")
	}
	s.open = s.open[:n-1]
	s.pos = j + 1
	return token{kind: tokEnd, start: i, a: i + 2, end: end, local: i + 2}, nil
}

// procInst reads the processing instruction at b[i:] == "<?". An XML
// declaration must declare version 1.0 (or none) and UTF-8 (or none), as
// encoding/xml without a CharsetReader requires.
func (s *scanner) procInst(i int) (token, error) {
	b := s.b
	end, _, err := s.name(i+2, false)
	if err != nil {
		return token{}, err
	}
	j := s.space(end)
	k := bytes.Index(b[j:], []byte("?>"))
	if k < 0 {
		return token{}, s.eof()
	}
	k += j
	if string(b[i+2:end]) == "xml" {
		content := b[j:k]
		if v := declParam(content, "version="); len(v) > 0 && string(v) != "1.0" {
			return token{}, s.fail(i, "unsupported XML version")
		}
		if v := declParam(content, "encoding="); len(v) > 0 && !bytes.EqualFold(v, []byte("utf-8")) {
			return token{}, s.fail(i, "unsupported encoding")
		}
	}
	s.pos = k + 2
	return token{kind: tokOther, start: i}, nil
}

// declParam returns the value of param (with its '=') in the content of an
// XML declaration as encoding/xml finds it: the first occurrence of param
// directly followed by a quote, up to the next such quote; nil if there is
// none.
func declParam(s []byte, param string) []byte {
	i := 0
	var quote byte
	for i < len(s) {
		sub := s[i:]
		k := bytes.Index(sub, []byte(param))
		if k < 0 || len(param)+k >= len(sub) {
			return nil
		}
		i += len(param) + k + 1
		if c := sub[len(param)+k]; c == '\'' || c == '"' {
			quote = c
			break
		}
	}
	if quote == 0 {
		return nil
	}
	j := bytes.IndexByte(s[i:], quote)
	if j < 0 {
		return nil
	}
	return s[i : i+j]
}

// bang reads what starts with b[i:] == "<!": a comment, a CDATA section
// or a directive (<!DOCTYPE …>).
func (s *scanner) bang(i int) (token, error) {
	b := s.b
	j := i + 2
	if j >= len(b) {
		return token{}, s.eof()
	}
	switch b[j] {
	case '-':
		// A comment ends at the first "--", which must be followed by '>'.
		if j+1 >= len(b) {
			return token{}, s.eof()
		}
		if b[j+1] != '-' {
			return token{}, s.fail(i, "invalid sequence <!- not part of <!--")
		}
		k := bytes.Index(b[j+2:], []byte("--"))
		if k < 0 || j+2+k+2 >= len(b) {
			return token{}, s.eof()
		}
		k += j + 2
		if b[k+2] != '>' {
			return token{}, s.fail(k, `invalid sequence "--" not allowed in comments`)
		}
		s.pos = k + 3
		return token{kind: tokOther, start: i}, nil
	case '[':
		const cdata = "CDATA["
		for m := range len(cdata) {
			if j+1+m >= len(b) {
				return token{}, s.eof()
			}
			if b[j+1+m] != cdata[m] {
				return token{}, s.fail(i, "invalid <![ sequence")
			}
		}
		start := j + 1 + len(cdata)
		k := bytes.Index(b[start:], []byte("]]>"))
		if k < 0 {
			return token{}, s.fail(len(b), "unexpected EOF in CDATA section")
		}
		end := start + k
		plain, err := s.checkChars(b[start:end], start)
		if err != nil {
			return token{}, err
		}
		s.pos = end + 3
		return token{kind: tokCDATA, start: i, a: start, end: end, plain: plain}, nil
	}
	end, err := s.directive(j + 1)
	if err != nil {
		return token{}, err
	}
	s.pos = end
	return token{kind: tokOther, start: i}, nil
}

// directive finds the end of a directive whose first byte (at i-1, taken
// as it is) follows "<!": the first '>' outside quotes that closes as many
// '<' as were opened, with comments inside skipped. It returns the offset
// after that '>'.
func (s *scanner) directive(i int) (int, error) {
	b := s.b
	var quote byte
	depth := 0
	for {
		if i >= len(b) {
			return 0, s.eof()
		}
		c := b[i]
		i++
		if quote == 0 && c == '>' && depth == 0 {
			return i, nil
		}
	handle:
		switch {
		case c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case c == '>':
			depth--
		case c == '<':
			const open = "!--"
			for m := range len(open) {
				if i >= len(b) {
					return 0, s.eof()
				}
				c = b[i]
				i++
				if c != open[m] {
					depth++
					goto handle
				}
			}
			k := bytes.Index(b[i:], []byte("-->"))
			if k < 0 {
				return 0, s.eof()
			}
			i += k + 3
		}
	}
}
