package fakebbb

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
)

// textTrack is a caption or subtitle file of a recording.
type textTrack struct {
	kind, lang, label, source string
	data                      []byte
}

// langRE is a loose BCP-47 check, enough to reject garbage.
var langRE = regexp.MustCompile(`^[a-zA-Z]{2,8}(-[a-zA-Z0-9]{1,8})*$`)

type jsonResponse struct {
	Response any `json:"response"`
}

type jsonFailure struct {
	ReturnCode string `json:"returncode"`
	MessageKey string `json:"messageKey"`
	Message    string `json:"message"`
}

type jsonTrack struct {
	Href   string `json:"href"`
	Kind   string `json:"kind"`
	Label  string `json:"label"`
	Lang   string `json:"lang"`
	Source string `json:"source"`
}

type jsonTracks struct {
	ReturnCode string      `json:"returncode"`
	Tracks     []jsonTrack `json:"tracks"`
}

type jsonPutTrack struct {
	ReturnCode string `json:"returncode"`
	MessageKey string `json:"messageKey"`
	Message    string `json:"message"`
	RecordID   string `json:"recordId"`
}

// marshalJSON encodes v without HTML escaping and without a trailing
// newline.
func marshalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func writeJSONFailure(w http.ResponseWriter, key, msg string) {
	writeJSON(w, marshalJSON(jsonResponse{jsonFailure{"FAILED", key, msg}}))
}

// trackHref is where a text track is served, on this server's host.
func trackHref(r *recording, t *textTrack) string {
	return r.base + "/textTrack/" + sha1Hex(t.kind+"_"+t.lang+"/"+r.id) + "/" + r.id + "/" + t.kind + "_" + t.lang + ".vtt"
}

func (s *Server) getRecordingTextTracks(w http.ResponseWriter, _ *http.Request, req *request) {
	id := req.all.get("recordID")
	if id == "" {
		writeError(w, errMissingRecordID)
		return
	}
	s.mu.Lock()
	r := s.state().recordings[id]
	found := r != nil && r.state != StateDeleted
	out := jsonTracks{ReturnCode: "SUCCESS", Tracks: []jsonTrack{}}
	if found {
		for _, t := range r.tracks {
			out.Tracks = append(out.Tracks, jsonTrack{trackHref(r, t), t.kind, t.label, t.lang, t.source})
		}
	}
	s.mu.Unlock()
	if !found {
		writeJSONFailure(w, errNoRecordingTextTrack.key, errNoRecordingTextTrack.message)
		return
	}
	writeJSON(w, marshalJSON(jsonResponse{out}))
}

// multipartFile returns the parameters and the "file" part of a
// multipart/form-data body. hasFile is false if there is no file part.
func multipartFile(req *request) (fields params, file []byte, hasFile bool, err error) {
	if req.mediaType != "multipart/form-data" || len(req.body) == 0 {
		return nil, nil, false, nil
	}
	_, mp, err := mime.ParseMediaType(req.contentType)
	if err != nil || mp["boundary"] == "" {
		return nil, nil, false, errors.New("multipart body without boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(req.body), mp["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, file, hasFile, nil
		}
		if err != nil {
			return nil, nil, false, err
		}
		data, err := io.ReadAll(io.LimitReader(part, maxBody))
		name := part.FormName()
		_ = part.Close()
		if err != nil {
			return nil, nil, false, err
		}
		if name == "file" && !hasFile {
			file, hasFile = data, true
			continue
		}
		if name != "" && part.FileName() == "" {
			fields = append(fields, pair{name: name, value: string(data)})
		}
	}
}

func (s *Server) putRecordingTextTrack(w http.ResponseWriter, _ *http.Request, req *request) {
	fields, file, hasFile, err := multipartFile(req)
	if err != nil {
		writeJSONFailure(w, "upload_text_track_failed", "Text track upload failed.")
		return
	}
	p := append(req.all[:len(req.all):len(req.all)], fields...)
	id, kind, lang := p.get("recordID"), p.get("kind"), p.get("lang")
	switch {
	case id == "":
		writeJSONFailure(w, "paramError", "Missing param recordID.")
		return
	case kind == "":
		writeJSONFailure(w, "paramError", "Missing param kind.")
		return
	case lang == "":
		writeJSONFailure(w, "paramError", "Missing param lang.")
		return
	case kind != "subtitles" && kind != "captions":
		writeJSONFailure(w, "invalidKind", "Invalid kind parameter, expected='subtitles|captions' actual="+kind)
		return
	case !langRE.MatchString(lang):
		writeJSONFailure(w, "invalidLang", "Malformed lang param, received="+lang)
		return
	case hasFile && len(file) == 0:
		writeJSONFailure(w, "empty_uploaded_text_track", "Empty uploaded text track.")
		return
	}
	label := p.get("label")
	if label == "" {
		label = lang
	}
	s.mu.Lock()
	r := s.state().recordings[id]
	found := r != nil && r.state != StateDeleted
	if found {
		kept := r.tracks[:0]
		for _, t := range r.tracks {
			if t.kind != kind || t.lang != lang {
				kept = append(kept, t)
			}
		}
		r.tracks = kept
		if hasFile {
			r.tracks = append(r.tracks, &textTrack{kind: kind, lang: lang, label: label, source: "upload", data: file})
		}
	}
	s.mu.Unlock()
	if !found {
		writeJSONFailure(w, "noRecordings", "No recording found for "+id)
		return
	}
	writeJSON(w, marshalJSON(jsonResponse{jsonPutTrack{"SUCCESS", "upload_text_track_success", "Text track uploaded successfully", id}}))
}
