package bbb

import (
	"encoding/xml"
	"fmt"
)

// HookEntry is one hook as a bbb-webhooks hooks/list answer reports it.
type HookEntry struct {
	// HookID is the server's ID for the hook (per server, not global).
	HookID string
	// CallbackURL is the URL events are posted to.
	CallbackURL string
	// MeetingID is the external meeting ID of a meeting hook; empty for a
	// global hook.
	MeetingID string
	// EventID is the comma list of event IDs the hook is limited to; empty
	// for all events.
	EventID string
	// PermanentHook reports a hook configured on the server itself.
	PermanentHook bool
	// RawData reports whether raw event data is delivered (getRaw).
	RawData bool
}

// ParseHooks decodes a hooks/list answer. A FAILED answer yields an error
// wrapping an *Error; a body that is not a BBB answer yields an error
// wrapping ErrMalformed.
func ParseHooks(body []byte) ([]HookEntry, error) {
	var out []HookEntry
	st, err := walkResponse(body, func(w *walker, se xml.StartElement, _ int64) error {
		if se.Name.Local != "hooks" {
			return w.skip()
		}
		return eachChild(w, "hook", func(int64) error {
			var h HookEntry
			for {
				ce, _, ok, err := w.next()
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				s, err := w.text()
				if err != nil {
					return err
				}
				switch ce.Name.Local {
				case "hookID":
					h.HookID = s
				case "callbackURL":
					h.CallbackURL = s
				case "meetingID":
					h.MeetingID = s
				case "eventID":
					h.EventID = s
				case "permanentHook":
					h.PermanentHook = parseBool(s)
				case "rawData":
					h.RawData = parseBool(s)
				}
			}
			out = append(out, h)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parse hooks/list: %w", err)
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("hooks/list: %w", err)
	}
	return out, nil
}

// ParseHookCreate decodes a hooks/create answer. A SUCCESS carries the
// server's hookID, also when st.MessageKey is duplicateWarning (a hook for
// that callback URL already existed). A well-formed FAILED answer is not
// an error: st reports it. A body that is not a BBB answer yields an error
// wrapping ErrMalformed.
func ParseHookCreate(body []byte) (hookID string, st Status, err error) {
	st, err = walkResponse(body, func(w *walker, se xml.StartElement, _ int64) error {
		if se.Name.Local != "hookID" {
			return w.skip()
		}
		s, err := w.text()
		hookID = s
		return err
	})
	if err != nil {
		return "", Status{}, fmt.Errorf("parse hooks/create: %w", err)
	}
	return hookID, st, nil
}
