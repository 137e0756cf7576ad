package bbb

import (
	"encoding/json"
	"fmt"
)

// ParseTextTracks decodes a getRecordingTextTracks JSON answer
// ({"response":{"returncode":…,"tracks":[…]}}). Each track is returned as
// raw JSON so that no field is lost. A well-formed FAILED answer (such as
// noRecordings) is not an error: st reports it. A body that is not such a
// JSON answer yields an error wrapping ErrMalformed. (bbb-web answers a
// missing checksum or recordID with XML; use ParseStatus for those.)
func ParseTextTracks(body []byte) (st Status, tracks []json.RawMessage, err error) {
	var v struct {
		Response *struct {
			ReturnCode string            `json:"returncode"`
			MessageKey string            `json:"messageKey"`
			Message    string            `json:"message"`
			Tracks     []json.RawMessage `json:"tracks"`
		} `json:"response"`
	}
	if err := json.Unmarshal(trimBOM(body), &v); err != nil {
		return Status{}, nil, fmt.Errorf("parse getRecordingTextTracks: %w", malformed(err))
	}
	if v.Response == nil || v.Response.ReturnCode == "" {
		return Status{}, nil, fmt.Errorf("parse getRecordingTextTracks: %w", malformed(fmt.Errorf("no response.returncode")))
	}
	r := v.Response
	st = Status{ReturnCode: r.ReturnCode, MessageKey: r.MessageKey, Message: r.Message}
	return st, r.Tracks, nil
}

// TextTracksJSON builds a getRecordingTextTracks SUCCESS answer from raw
// track objects, in order. Each track must be valid JSON.
func TextTracksJSON(tracks []json.RawMessage) []byte {
	out := []byte(`{"response":{"returncode":"SUCCESS","tracks":[`)
	for i, t := range tracks {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, t...)
	}
	return append(out, "]}}"...)
}
