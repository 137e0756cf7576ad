package bbb

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Recording states as BBB names them.
const (
	StateProcessing  = "processing"
	StateProcessed   = "processed"
	StatePublished   = "published"
	StateUnpublished = "unpublished"
	StateDeleted     = "deleted"
	// StateAny in a state filter selects every state.
	StateAny = "any"
)

// Recording is one recording as a BBB server reports it in getRecordings:
// the fields tinyscale filters, sorts and routes on, plus the raw element.
type Recording struct {
	// RecordID is the recording's ID: the meeting's internalMeetingID.
	RecordID string
	// MeetingID is the external meeting ID.
	MeetingID string
	// InternalMeetingID is the meeting's internal ID (usually = RecordID).
	InternalMeetingID string
	// State is processing, processed, published, unpublished or deleted.
	State string
	// Published is the <published> flag.
	Published bool
	// StartTime and EndTime are Unix milliseconds.
	StartTime, EndTime int64
	// Metadata maps the children of <metadata> to their text, untrimmed.
	// Keys are as the server sent them (BBB adds meetingId, meetingName and
	// isBreakout in camel case to the lower-cased create-time keys). Nil
	// if there are none.
	Metadata map[string]string
	// Raw is the complete <recording>…</recording> element, byte for byte;
	// it shares memory with the parsed body. RecordingsXML writes it.
	Raw []byte
}

// EffectiveState is r.State, or, for a server that sent no <state>,
// published or unpublished according to r.Published.
func (r Recording) EffectiveState() string {
	switch {
	case r.State != "":
		return r.State
	case r.Published:
		return StatePublished
	default:
		return StateUnpublished
	}
}

func readRecording(w *walker, start int64) (Recording, error) {
	var r Recording
	for {
		se, _, ok, err := w.next()
		if err != nil {
			return r, err
		}
		if !ok {
			break
		}
		var dst *string
		switch se.Name.Local {
		case "recordID":
			dst = &r.RecordID
		case "meetingID":
			dst = &r.MeetingID
		case "internalMeetingID":
			dst = &r.InternalMeetingID
		case "state":
			dst = &r.State
		case "metadata":
			if r.Metadata, err = readMetadata(w, r.Metadata); err != nil {
				return r, err
			}
			continue
		case "published", "startTime", "endTime":
		default:
			if err := w.skip(); err != nil {
				return r, err
			}
			continue
		}
		s, err := w.text()
		if err != nil {
			return r, err
		}
		switch se.Name.Local {
		case "published":
			r.Published = parseBool(s)
		case "startTime":
			r.StartTime = parseInt64(s)
		case "endTime":
			r.EndTime = parseInt64(s)
		default:
			*dst = s
		}
	}
	end := w.offset()
	r.Raw = w.body[start:end:end]
	return r, nil
}

// ParseRecordings decodes a getRecordings answer. The empty answer
// (noRecordings) yields no recordings and no error; a top-level
// totalElements or pagination block is ignored. A FAILED answer yields an
// error wrapping an *Error; a body that is not a BBB answer yields an
// error wrapping ErrMalformed.
func ParseRecordings(body []byte) ([]Recording, error) {
	var out []Recording
	st, err := walkResponse(body, func(w *walker, se xml.StartElement, _ int64) error {
		if se.Name.Local != "recordings" {
			return w.skip()
		}
		return eachChild(w, "recording", func(start int64) error {
			r, err := readRecording(w, start)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parse getRecordings: %w", err)
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("getRecordings: %w", err)
	}
	return out, nil
}

// MaxRecordingsLimit is the largest page size getRecordings accepts; larger
// limits are clamped to it, as bbb-web does.
const MaxRecordingsLimit = 100

// RecordingFilter is a getRecordings query as bbb-web 2.6+ applies it
// (spec §3.7). The zero value selects published and unpublished recordings,
// unpaged.
type RecordingFilter struct {
	// RecordIDs are recordID prefixes: a recording matches if its recordID
	// starts with any of them. Empty matches every recording. An empty
	// string in the list matches every recording, as in bbb-web.
	RecordIDs []string
	// MeetingIDs are the external meeting IDs the RecordIDs were derived
	// from (sha1hex of each), or nil if the query named recordIDs or no
	// meetings. Informational, for routing; Match does not use it.
	MeetingIDs []string
	// States lists the accepted states. Empty means published and
	// unpublished; a list containing "any" accepts every state. Unknown
	// names match nothing.
	States []string
	// Meta maps lower-cased metadata keys to patterns; every entry must
	// match (see Match).
	Meta map[string]string
	// Offset is the index of the page's first recording (≥ 0). It is used
	// only when Limit > 0.
	Offset int
	// Limit is the page size, 1..MaxRecordingsLimit; 0 means the answer is
	// not paged.
	Limit int
}

// Paged reports whether the filter asks for one page (limit given), in
// which case the answer carries totalElements.
func (f RecordingFilter) Paged() bool { return f.Limit > 0 }

// RecordingFilterFromQuery builds the filter of a getRecordings call from
// its parameters (query and form), following bbb-web 2.6+/3.0:
//
//   - meetingID, recordID and state are comma lists. Like bbb-web, each
//     value is URL-decoded a second time (a value that does not decode is
//     kept as is) and split on ',' with trailing empty items dropped.
//   - recordID entries are recordID prefixes; if there are none, each
//     meetingID becomes the prefix sha1hex(meetingID).
//   - meta_<key>=<pattern> filters use the lower-cased key; see Match.
//   - limit: an integer; below 1 becomes 1, above 100 becomes 100; not an
//     integer (or absent) means not paged, and offset is then ignored.
//     offset: an integer; negative or not an integer becomes 0.
//
// The error is reserved for input the filter cannot represent; with these
// rules every query yields a filter and the error is nil.
func RecordingFilterFromQuery(q Query) (RecordingFilter, error) {
	var f RecordingFilter
	f.RecordIDs = splitIDs(q.Get(ParamRecordID))
	if len(f.RecordIDs) == 0 {
		if ids := splitIDs(q.Get(ParamMeetingID)); len(ids) > 0 {
			f.MeetingIDs = ids
			f.RecordIDs = make([]string, len(ids))
			for i, id := range ids {
				f.RecordIDs[i] = MeetingHash(id)
			}
		}
	}
	f.States = splitIDs(q.Get(ParamState))
	f.Meta = q.Meta()
	if l, err := strconv.ParseInt(q.Get(ParamLimit), 10, 32); err == nil {
		f.Limit = int(min(max(l, 1), MaxRecordingsLimit))
		if o, err := strconv.ParseInt(q.Get(ParamOffset), 10, 32); err == nil && o > 0 {
			f.Offset = int(o)
		}
	}
	return f, nil
}

// splitIDs is bbb-web's decodeIds: URL-decode, then Java's String.split(",")
// (which drops trailing empty strings).
func splitIDs(v string) []string {
	if v == "" {
		return nil
	}
	if d, err := url.QueryUnescape(v); err == nil {
		v = d
	}
	ids := strings.Split(v, ",")
	for len(ids) > 0 && ids[len(ids)-1] == "" {
		ids = ids[:len(ids)-1]
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// StateAllowed reports whether a recording in state passes the state list.
func (f RecordingFilter) StateAllowed(state string) bool {
	if len(f.States) == 0 {
		return state == StatePublished || state == StateUnpublished
	}
	for _, s := range f.States {
		if s == StateAny || s == state {
			return true
		}
	}
	return false
}

// Match reports whether r passes the filter's recordID prefixes, states
// and metadata patterns (paging is not considered).
//
// A metadata pattern matches if the recording has the key (compared
// exactly, as bbb-web does, so camel-case keys such as meetingId never
// match a lower-cased filter key) and its value: equals the pattern;
// or, for "abc%", starts with abc; for "%abc", ends with abc; for
// "%abc%", contains abc. "%" alone matches any value, and an empty pattern
// matches only an empty value (bbb-web fails on both).
func (f RecordingFilter) Match(r Recording) bool {
	if len(f.RecordIDs) > 0 {
		ok := false
		for _, p := range f.RecordIDs {
			if strings.HasPrefix(r.RecordID, p) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if !f.StateAllowed(r.EffectiveState()) {
		return false
	}
	for k, pattern := range f.Meta {
		v, ok := r.Metadata[k]
		if !ok || !metaMatch(pattern, v) {
			return false
		}
	}
	return true
}

func metaMatch(pattern, v string) bool {
	if pattern == "%" {
		return true
	}
	lead := strings.HasPrefix(pattern, "%")
	trail := strings.HasSuffix(pattern, "%")
	switch {
	case lead && trail && strings.Contains(v, pattern[1:len(pattern)-1]):
		return true
	case lead && strings.HasSuffix(v, pattern[1:]):
		return true
	case trail && strings.HasPrefix(v, pattern[:len(pattern)-1]):
		return true
	}
	return v == pattern
}

// ApplyRecordings applies f to recordings merged from several servers: it
// keeps those that Match, drops later duplicates of a recordID (the first
// one in all wins), sorts them by StartTime and then RecordID (oldest
// first; a new recording is appended after those a client has already
// paged through), and cuts the page given by Offset and Limit if f is
// paged. total is the number of matching recordings before paging, the
// value of totalElements. all is not modified; page may share memory with
// a new internal slice but never with all.
func ApplyRecordings(all []Recording, f RecordingFilter) (page []Recording, total int) {
	seen := make(map[string]struct{}, len(all))
	kept := make([]Recording, 0, len(all))
	for _, r := range all {
		if _, dup := seen[r.RecordID]; dup || !f.Match(r) {
			continue
		}
		seen[r.RecordID] = struct{}{}
		kept = append(kept, r)
	}
	slices.SortFunc(kept, func(a, b Recording) int {
		if c := cmp.Compare(a.StartTime, b.StartTime); c != 0 {
			return c
		}
		return strings.Compare(a.RecordID, b.RecordID)
	})
	total = len(kept)
	if !f.Paged() {
		return kept, total
	}
	lo := min(max(f.Offset, 0), total)
	hi := min(lo+f.Limit, total)
	return kept[lo:hi:hi], total
}

// The getRecordings answer with no recordings, as bbb-web 2.6+ sends it,
// split where a paged answer inserts totalElements.
const (
	noRecordingsHead = "<response><returncode>SUCCESS</returncode><recordings></recordings>"
	noRecordingsTail = "<messageKey>noRecordings</messageKey><message>There are no recordings for the meeting(s).</message></response>"
)

// RecordingsXML builds a getRecordings SUCCESS answer from the raw
// elements of page, in order. If paged, a top-level
// <totalElements>total</totalElements> follows </recordings> (the form of
// bbb-web 2.7.x after PR #21644). An empty page yields BBB's noRecordings
// answer (with totalElements after </recordings> if paged). A Recording
// without Raw contributes nothing to the answer.
func RecordingsXML(page []Recording, total int, paged bool) []byte {
	var tot []byte
	if paged {
		tot = append([]byte("<totalElements>"), strconv.Itoa(total)...)
		tot = append(tot, "</totalElements>"...)
	}
	if len(page) == 0 {
		out := make([]byte, 0, len(noRecordingsHead)+len(tot)+len(noRecordingsTail))
		out = append(out, noRecordingsHead...)
		out = append(out, tot...)
		return append(out, noRecordingsTail...)
	}
	const head = "<response><returncode>SUCCESS</returncode><recordings>"
	const tail = "</recordings>"
	const end = "</response>"
	n := len(head) + len(tail) + len(tot) + len(end)
	for _, r := range page {
		n += len(r.Raw)
	}
	out := make([]byte, 0, n)
	out = append(out, head...)
	for _, r := range page {
		out = append(out, r.Raw...)
	}
	out = append(out, tail...)
	out = append(out, tot...)
	return append(out, end...)
}
