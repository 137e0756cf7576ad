package fakebbb

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Recording states, as in getRecordings' state parameter.
const (
	StateProcessing  = "processing"
	StateProcessed   = "processed"
	StatePublished   = "published"
	StateUnpublished = "unpublished"
	StateDeleted     = "deleted"
)

func validState(s string) bool {
	switch s {
	case StateProcessing, StateProcessed, StatePublished, StateUnpublished, StateDeleted:
		return true
	}
	return false
}

// recording is one recording, guarded by Server.mu.
type recording struct {
	id, meetingID, name string
	isBreakout          bool
	parentID            string // parent meeting's internal ID
	sequence            int
	freeJoin            bool
	children            []string // recordIDs of breakout recordings
	state               string
	startTime, endTime  int64
	participants        int
	meta                *metadata
	base                string
	tracks              []*textTrack
}

// addRecordingLocked stores r. Call with s.mu held.
func (st *state) addRecordingLocked(r *recording) {
	st.recordings[r.id] = r
	st.recOrder = append(st.recOrder, r)
	if r.parentID != "" {
		if p := st.recordings[r.parentID]; p != nil {
			p.children = append(p.children, r.id)
		}
	}
}

// recordLocked starts the recording pipeline of an ended, recorded meeting:
// the recording is "processing" at once and published after
// RecordingDelay. Call with s.mu held.
func (s *Server) recordLocked(st *state, m *meeting) {
	if st.recordings[m.internalID] != nil {
		return
	}
	r := &recording{
		id:           m.internalID,
		meetingID:    m.id,
		name:         m.name,
		isBreakout:   m.isBreakout,
		parentID:     m.parentID,
		sequence:     m.sequence,
		freeJoin:     m.freeJoin,
		state:        StateProcessing,
		startTime:    m.startTime,
		endTime:      m.endTime,
		participants: m.joined,
		meta:         m.meta.clone(),
		base:         m.base,
	}
	st.addRecordingLocked(r)
	id := r.id
	s.sched.schedule("rec:"+id, s.RecordingDelay, nil, func(ctx context.Context, _ int) error {
		s.publishProcessed(ctx, id)
		return nil
	})
}

// publishProcessed publishes a processing recording and sends the
// rap-publish-ended webhook event and the recording-ready callback.
func (s *Server) publishProcessed(ctx context.Context, id string) {
	s.mu.Lock()
	st := s.state()
	r := st.recordings[id]
	if r == nil || (r.state != StateProcessing && r.state != StateProcessed) {
		s.mu.Unlock()
		return
	}
	r.state = StatePublished
	s.emitLocked(st, rapPublishEndedEvent(s, r))
	target := ""
	for _, k := range []string{"bbb-recording-ready-url", "bn-recording-ready-url", "canvas-recording-ready-url"} {
		if v, ok := r.meta.get(k); ok && v != "" {
			target = v
			break
		}
	}
	meetingID := r.meetingID
	s.mu.Unlock()
	if target != "" {
		s.recordingReady(ctx, target, meetingID, id)
	}
}

// splitList splits a comma list, trimming blanks and dropping empty items.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// metaMatches applies a getRecordings meta filter: "%x%" contains, "%x"
// ends with, "x%" starts with, otherwise equals.
func metaMatches(value, filter string) bool {
	switch {
	case len(filter) >= 2 && strings.HasPrefix(filter, "%") && strings.HasSuffix(filter, "%"):
		return strings.Contains(value, filter[1:len(filter)-1])
	case strings.HasPrefix(filter, "%"):
		return strings.HasSuffix(value, filter[1:])
	case strings.HasSuffix(filter, "%"):
		return strings.HasPrefix(value, filter[:len(filter)-1])
	}
	return value == filter
}

func (s *Server) getRecordings(w http.ResponseWriter, _ *http.Request, req *request) {
	p := req.all
	prefixes := splitList(p.get("recordID"))
	if len(prefixes) == 0 {
		for _, id := range splitList(p.get("meetingID")) {
			prefixes = append(prefixes, sha1Hex(id))
		}
	}
	states := splitList(strings.ToLower(p.get("state")))
	if len(states) == 0 {
		states = []string{StatePublished, StateUnpublished}
	}
	anyState := contains(states, "any")
	filters := p.meta()
	limit, paginated := 0, false
	if v := p.get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			limit, paginated = min(n, 100), true
		}
	}
	offset := 0
	if n, err := strconv.Atoi(p.get("offset")); err == nil && n > 0 {
		offset = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	var matches []*recording
	for _, r := range st.recOrder {
		if !anyState && !contains(states, r.state) {
			continue
		}
		if len(prefixes) > 0 {
			ok := false
			for _, pre := range prefixes {
				if strings.HasPrefix(r.id, pre) {
					ok = true
					break
				}
			}
			if !ok {
				continue
			}
		}
		ok := true
		filters.each(func(k, f string) {
			if v, has := r.meta.get(k); !has || !metaMatches(v, f) {
				ok = false
			}
		})
		if ok {
			matches = append(matches, r)
		}
	}
	total := len(matches)
	page := matches
	if paginated {
		if offset >= total {
			page = nil
		} else {
			page = matches[offset:min(offset+limit, total)]
		}
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	if len(page) == 0 {
		x.open("recordings")
		x.close("recordings")
		x.el("messageKey", "noRecordings")
		x.el("message", "There are no recordings for the meeting(s).")
		writeXML(w, x.bytes())
		return
	}
	x.open("recordings")
	for _, r := range page {
		writeRecording(x, r)
	}
	x.close("recordings")
	if paginated {
		x.int("totalElements", int64(total))
	}
	writeXML(w, x.bytes())
}

// playbackURL is where the presentation format of r is served.
func (r *recording) playbackURL() string {
	return r.base + "/playback/presentation/2.3/" + r.id
}

// lengthMinutes is the playback length in minutes, as getRecordings reports it.
func (r *recording) lengthMinutes() int64 {
	if r.endTime <= r.startTime {
		return 0
	}
	return (r.endTime - r.startTime + 30000) / 60000
}

// writeRecording writes one <recording> (2.6+ shape).
func writeRecording(x *xmlBuf, r *recording) {
	x.open("recording")
	x.el("recordID", r.id)
	x.el("meetingID", r.meetingID)
	x.el("internalMeetingID", r.id)
	x.el("name", r.name)
	x.bool("isBreakout", r.isBreakout)
	x.bool("published", r.state == StatePublished)
	x.el("state", r.state)
	x.int("startTime", r.startTime)
	x.int("endTime", r.endTime)
	x.int("participants", int64(r.participants))
	if r.isBreakout {
		x.open("breakout")
		x.el("parentId", r.parentID)
		x.int("sequence", int64(r.sequence))
		x.bool("freeJoin", r.freeJoin)
		x.close("breakout")
	}
	if len(r.children) > 0 {
		x.open("breakoutRooms")
		for _, c := range r.children {
			x.el("breakoutRoom", c)
		}
		x.close("breakoutRooms")
	}
	x.open("metadata")
	x.el("meetingId", r.meetingID)
	x.el("meetingName", r.name)
	x.bool("isBreakout", r.isBreakout)
	r.meta.each(func(k, v string) {
		switch k {
		case "meetingid", "meetingname", "isbreakout":
			return
		}
		x.el(k, v)
	})
	x.close("metadata")
	x.open("playback")
	x.open("format")
	x.el("type", "presentation")
	x.el("url", r.playbackURL())
	x.int("processingTime", 1000)
	x.int("length", r.lengthMinutes())
	x.open("preview")
	x.open("images")
	x.b = append(x.b, `<image alt="Welcome" height="136" width="176">`...)
	x.b = appendEscaped(x.b, r.base+"/presentation/"+r.id+"/presentation/"+sha1Hex(r.id+"/slides")+"-"+strconv.FormatInt(r.startTime, 10)+"/thumbnails/thumb-1.png")
	x.close("image")
	x.close("images")
	x.close("preview")
	x.close("format")
	x.close("playback")
	x.close("recording")
}

// existing returns the recordings among ids that exist and are not
// deleted. Call with s.mu held.
func (st *state) existing(ids []string) []*recording {
	var out []*recording
	for _, id := range ids {
		if r := st.recordings[id]; r != nil && r.state != StateDeleted {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) publishRecordings(w http.ResponseWriter, _ *http.Request, req *request) {
	ids := splitList(req.all.get("recordID"))
	if len(ids) == 0 {
		writeError(w, errMissingRecordID)
		return
	}
	pub, ok := parseBool(req.all.get("publish"))
	if !ok || req.all.get("publish") == "" {
		writeError(w, errMissingPublish)
		return
	}
	s.mu.Lock()
	st := s.state()
	var found []*recording
	for _, r := range st.existing(ids) {
		if r.state == StatePublished || r.state == StateUnpublished {
			found = append(found, r)
		}
	}
	for _, r := range found {
		want := StateUnpublished
		event := "rap-unpublished"
		if pub {
			want, event = StatePublished, "rap-published"
		}
		if r.state != want {
			r.state = want
			s.emitLocked(st, rapEvent(s, event, r))
		}
	}
	s.mu.Unlock()
	if len(found) == 0 {
		writeError(w, errRecordingNotFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.bool("published", pub)
	writeXML(w, x.bytes())
}

func (s *Server) deleteRecordings(w http.ResponseWriter, _ *http.Request, req *request) {
	ids := splitList(req.all.get("recordID"))
	if len(ids) == 0 {
		writeError(w, errMissingRecordID)
		return
	}
	s.mu.Lock()
	st := s.state()
	found := st.existing(ids)
	for _, r := range found {
		r.state = StateDeleted
		s.emitLocked(st, rapEvent(s, "rap-deleted", r))
	}
	s.mu.Unlock()
	if len(found) == 0 {
		writeError(w, errRecordingNotFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.bool("deleted", true)
	writeXML(w, x.bytes())
}

func (s *Server) updateRecordings(w http.ResponseWriter, _ *http.Request, req *request) {
	ids := splitList(req.all.get("recordID"))
	if len(ids) == 0 {
		writeError(w, errMissingRecordID)
		return
	}
	// Every meta_ parameter, empty values included (they remove the key).
	var keys []string
	vals := map[string]string{}
	for _, q := range req.all {
		if k, ok := metaKey(q.name); ok {
			if _, dup := vals[k]; !dup {
				keys = append(keys, k)
				vals[k] = q.value
			}
		}
	}
	s.mu.Lock()
	found := s.state().existing(ids)
	for _, r := range found {
		for _, k := range keys {
			if vals[k] == "" {
				r.meta.del(k)
			} else {
				r.meta.set(k, vals[k])
			}
		}
	}
	s.mu.Unlock()
	if len(found) == 0 {
		writeError(w, errRecordingNotFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.bool("updated", true)
	writeXML(w, x.bytes())
}

// AddRecording stores a recording directly, without a meeting and without
// callbacks. MeetingID is required. Defaults: Name = MeetingID, StartTime =
// now (milliseconds, unique across the server), EndTime = StartTime + 10
// minutes, RecordID = sha1hex(MeetingID)-StartTime (the ID BBB would
// give), State = published. It returns the stored recording, or an error
// if the RecordID is taken or a field is invalid.
func (s *Server) AddRecording(rec Recording) (Recording, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.addRecordingFromLocked(s.state(), rec)
	if err != nil {
		return Recording{}, err
	}
	return r.snapshot(), nil
}

func (s *Server) addRecordingFromLocked(st *state, rec Recording) (*recording, error) {
	if rec.MeetingID == "" {
		return nil, fmt.Errorf("add recording: MeetingID is required")
	}
	if rec.State == "" {
		rec.State = StatePublished
	}
	if !validState(rec.State) {
		return nil, fmt.Errorf("add recording: unknown state %q", rec.State)
	}
	if rec.StartTime == 0 {
		rec.StartTime = s.createMillis(st)
	}
	if rec.EndTime == 0 {
		rec.EndTime = rec.StartTime + 10*60*1000
	}
	if rec.RecordID == "" {
		rec.RecordID = sha1Hex(rec.MeetingID) + "-" + strconv.FormatInt(rec.StartTime, 10)
	}
	if rec.Name == "" {
		rec.Name = rec.MeetingID
	}
	if st.recordings[rec.RecordID] != nil {
		return nil, fmt.Errorf("add recording: record ID %q already exists", rec.RecordID)
	}
	md := &metadata{}
	for _, k := range sortedKeys(rec.Metadata) {
		lk, ok := metaKey("meta_" + k)
		if !ok {
			return nil, fmt.Errorf("add recording: invalid metadata key %q", k)
		}
		md.set(lk, rec.Metadata[k])
	}
	r := &recording{
		id:           rec.RecordID,
		meetingID:    rec.MeetingID,
		name:         rec.Name,
		isBreakout:   rec.IsBreakout,
		parentID:     rec.ParentID,
		sequence:     rec.Sequence,
		state:        rec.State,
		startTime:    rec.StartTime,
		endTime:      rec.EndTime,
		participants: rec.Participants,
		meta:         md,
		base:         s.baseURL(nil),
	}
	st.addRecordingLocked(r)
	return r, nil
}

// AddRecordings stores n published recordings of the meeting with the
// external ID, each with its own start time (so its own recordID) and the
// given metadata (keys as after "meta_"). It returns them in order.
func (s *Server) AddRecordings(meetingID string, n int, meta map[string]string) ([]Recording, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	out := make([]Recording, 0, n)
	for range n {
		r, err := s.addRecordingFromLocked(st, Recording{MeetingID: meetingID, Metadata: meta})
		if err != nil {
			return out, err
		}
		out = append(out, r.snapshot())
	}
	return out, nil
}
