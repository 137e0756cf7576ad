package bbb

import (
	"encoding/xml"
	"fmt"
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

// readMeeting decodes a <meeting> element whose start tag was just read.
func readMeeting(w *walker, start int64) (MeetingEntry, error) {
	var e MeetingEntry
	for {
		se, _, ok, err := w.next()
		if err != nil {
			return e, err
		}
		if !ok {
			break
		}
		known, err := meetingField(w, se, &e)
		if err != nil {
			return e, err
		}
		if !known {
			if err := w.skip(); err != nil {
				return e, err
			}
		}
	}
	end := w.offset()
	e.Raw = w.body[start:end:end]
	return e, nil
}

// ParseMeetings decodes a getMeetings answer. The empty answer (noMeetings)
// yields no entries and no error. A FAILED answer yields an error wrapping
// an *Error with the server's messageKey and message; a body that is not a
// BBB answer yields an error wrapping ErrMalformed. Children of <meetings>
// other than <meeting> are ignored.
func ParseMeetings(body []byte) ([]MeetingEntry, error) {
	var out []MeetingEntry
	st, err := walkResponse(body, func(w *walker, se xml.StartElement, _ int64) error {
		if se.Name.Local != "meetings" {
			return w.skip()
		}
		return eachChild(w, "meeting", func(start int64) error {
			e, err := readMeeting(w, start)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parse getMeetings: %w", err)
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("getMeetings: %w", err)
	}
	return out, nil
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

// rawChildren returns the raw <name> elements inside the <list> child of
// a SUCCESS <response>, without decoding them.
func rawChildren(body []byte, call, list, name string) ([][]byte, error) {
	var out [][]byte
	st, err := walkResponse(body, func(w *walker, se xml.StartElement, _ int64) error {
		if se.Name.Local != list {
			return w.skip()
		}
		return eachChild(w, name, func(start int64) error {
			if err := w.skip(); err != nil {
				return err
			}
			end := w.offset()
			out = append(out, w.body[start:end:end])
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", call, err)
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", call, err)
	}
	return out, nil
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

// MeetingsXML builds a getMeetings SUCCESS answer from raw <meeting>
// elements, in the order given. With no elements it returns BBB's exact
// empty answer (<meetings/> with messageKey noMeetings). The elements are
// copied unchanged; they must each be one well-formed element.
func MeetingsXML(entries [][]byte) []byte {
	if len(entries) == 0 {
		return []byte(noMeetingsXML)
	}
	const head = "<response><returncode>SUCCESS</returncode><meetings>"
	const tail = "</meetings></response>"
	n := len(head) + len(tail)
	for _, e := range entries {
		n += len(e)
	}
	out := make([]byte, 0, n)
	out = append(out, head...)
	for _, e := range entries {
		out = append(out, e...)
	}
	return append(out, tail...)
}

// MergeMeetings merges getMeetings answers from several servers into one:
// every <meeting> element of every body, byte for byte, in body order. It
// fails if any body is not a SUCCESS getMeetings answer, naming the index
// of the first bad body; callers that tolerate failing servers should
// call ParseMeetings per body and MeetingsXML on the raw elements instead.
func MergeMeetings(bodies [][]byte) ([]byte, error) {
	var all [][]byte
	for i, b := range bodies {
		raws, err := rawChildren(b, CallGetMeetings, "meetings", "meeting")
		if err != nil {
			return nil, fmt.Errorf("merge meetings: body %d: %w", i, err)
		}
		all = append(all, raws...)
	}
	return MeetingsXML(all), nil
}
