package bbb

import (
	"encoding/xml"
	"fmt"
)

// The encoding/xml implementation of ParseMeetings and MergeMeetings that
// the scanner in meetings.go replaced. It is the reference of the
// differential tests (meetings_scan_test.go): on every input, the scanner
// must give the same meetings, status and errors.

// refReadMeeting decodes a <meeting> element whose start tag was just read.
func refReadMeeting(w *walker, start int64) (MeetingEntry, error) {
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

// refParseMeetings is ParseMeetings on encoding/xml.
func refParseMeetings(body []byte) ([]MeetingEntry, error) {
	var out []MeetingEntry
	st, err := walkResponse(body, func(w *walker, se xml.StartElement, _ int64) error {
		if se.Name.Local != "meetings" {
			return w.skip()
		}
		return eachChild(w, "meeting", func(start int64) error {
			e, err := refReadMeeting(w, start)
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

// refRawChildren returns the raw <name> elements inside the <list> child
// of a SUCCESS <response>, without decoding them.
func refRawChildren(body []byte, call, list, name string) ([][]byte, error) {
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

// refMergeMeetings is MergeMeetings on encoding/xml.
func refMergeMeetings(bodies [][]byte) ([]byte, error) {
	var all [][]byte
	for i, b := range bodies {
		raws, err := refRawChildren(b, CallGetMeetings, "meetings", "meeting")
		if err != nil {
			return nil, fmt.Errorf("merge meetings: body %d: %w", i, err)
		}
		all = append(all, raws...)
	}
	return MeetingsXML(all), nil
}
