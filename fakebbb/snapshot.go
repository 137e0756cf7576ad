package fakebbb

import (
	"fmt"
	"sort"
)

// Meeting is a snapshot of a running meeting.
type Meeting struct {
	// ID is the external meetingID.
	ID string `json:"id"`
	// InternalID is sha1hex(ID)-CreateTime.
	InternalID string `json:"internalID"`
	// Name is the meeting name.
	Name string `json:"name"`
	// CreateTime is the creation time in milliseconds since the epoch.
	CreateTime int64 `json:"createTime"`
	// AttendeePW and ModeratorPW are the (given or generated) passwords.
	AttendeePW  string `json:"attendeePW"`
	ModeratorPW string `json:"moderatorPW"`
	// VoiceBridge is the meeting's voice conference number.
	VoiceBridge string `json:"voiceBridge"`
	// Record is the create call's record flag.
	Record bool `json:"record"`
	// Running reports whether anybody is in the meeting.
	Running bool `json:"running"`
	// Participants is the number of users in the meeting.
	Participants int `json:"participants"`
	// Attendees are the users in the meeting, in joining order.
	Attendees []Attendee `json:"attendees,omitempty"`
	// Metadata holds the meta_ parameters, keys lower-cased.
	Metadata map[string]string `json:"metadata,omitempty"`
	// MeetingEndedURL is the create call's meetingEndedURL.
	MeetingEndedURL string `json:"meetingEndedURL,omitempty"`
	// IsBreakout marks a breakout room; ParentID is then the parent's
	// internal meeting ID and Sequence its room number.
	IsBreakout bool   `json:"isBreakout,omitempty"`
	ParentID   string `json:"parentID,omitempty"`
	Sequence   int    `json:"sequence,omitempty"`
	// Breakouts are the internal IDs of the meeting's breakout rooms.
	Breakouts []string `json:"breakouts,omitempty"`
	// CreateQuery is the raw query of the create call that created the
	// meeting, without its checksum.
	CreateQuery string `json:"createQuery,omitempty"`
	// Chat holds the messages received by sendChatMessage.
	Chat []ChatMessage `json:"chat,omitempty"`
	// Documents holds the bodies received by insertDocument.
	Documents []Body `json:"documents,omitempty"`
}

// Attendee is a user in a meeting.
type Attendee struct {
	// UserID is the external user ID (the join's userID, else InternalUserID).
	UserID string `json:"userID"`
	// InternalUserID is BBB's user ID ("w_…").
	InternalUserID string `json:"internalUserID"`
	// FullName and Role (MODERATOR or VIEWER) are as joined.
	FullName string `json:"fullName"`
	Role     string `json:"role"`
	// CustomData holds the join's userdata-* parameters, keyed without
	// the "userdata-" prefix.
	CustomData map[string]string `json:"customData,omitempty"`
}

// ChatMessage is a message posted with sendChatMessage.
type ChatMessage struct {
	// UserName is the sender ("System" if the call gave none).
	UserName string `json:"userName"`
	// Message is the text as received.
	Message string `json:"message"`
}

// Body is a request body as received, byte for byte.
type Body struct {
	// ContentType is the Content-Type header as received.
	ContentType string `json:"contentType"`
	// Data is the body.
	Data []byte `json:"data"`
}

// Recording is a snapshot of a recording; AddRecording takes one as input.
type Recording struct {
	// RecordID is the recording's ID (the meeting's internal ID).
	RecordID string `json:"recordID"`
	// MeetingID is the external meeting ID.
	MeetingID string `json:"meetingID"`
	// Name is the meeting name.
	Name string `json:"name"`
	// State is one of the State* constants.
	State string `json:"state"`
	// StartTime and EndTime are in milliseconds since the epoch.
	StartTime int64 `json:"startTime"`
	EndTime   int64 `json:"endTime"`
	// Participants is the number of users who joined the meeting.
	Participants int `json:"participants"`
	// Metadata holds the meeting's metadata, keys lower-cased.
	Metadata map[string]string `json:"metadata,omitempty"`
	// IsBreakout marks a breakout room's recording; ParentID is then the
	// parent's recordID and Sequence the room number.
	IsBreakout bool   `json:"isBreakout,omitempty"`
	ParentID   string `json:"parentID,omitempty"`
	Sequence   int    `json:"sequence,omitempty"`
	// PlaybackURL is the presentation format's URL on this server.
	PlaybackURL string `json:"playbackURL"`
	// TextTracks are the uploaded captions, in upload order.
	TextTracks []TextTrack `json:"textTracks,omitempty"`
}

// TextTrack is an uploaded caption or subtitle file.
type TextTrack struct {
	// Kind is subtitles or captions; Lang the BCP-47 language.
	Kind string `json:"kind"`
	Lang string `json:"lang"`
	// Label is the label given, or Lang.
	Label string `json:"label"`
	// Data is the uploaded file.
	Data []byte `json:"data"`
}

// Hook is a registered webhook.
type Hook struct {
	// ID is the per-server numeric hook ID.
	ID int `json:"id"`
	// CallbackURL is the URL events are POSTed to.
	CallbackURL string `json:"callbackURL"`
	// MeetingID limits the hook to one external meeting ID; "" is global.
	MeetingID string `json:"meetingID,omitempty"`
	// EventIDs limits the hook to these event ids; nil means all.
	EventIDs []string `json:"eventIDs,omitempty"`
	// Raw is the hook's getRaw flag.
	Raw bool `json:"raw,omitempty"`
}

func (m *meeting) snapshot() Meeting {
	out := Meeting{
		ID:              m.id,
		InternalID:      m.internalID,
		Name:            m.name,
		CreateTime:      m.createTime,
		AttendeePW:      m.attendeePW,
		ModeratorPW:     m.moderatorPW,
		VoiceBridge:     m.voiceBridge,
		Record:          m.record,
		Running:         len(m.users) > 0,
		Participants:    len(m.users),
		Metadata:        m.meta.toMap(),
		MeetingEndedURL: m.endedURL,
		IsBreakout:      m.isBreakout,
		ParentID:        m.parentID,
		Sequence:        m.sequence,
		Breakouts:       append([]string(nil), m.breakouts...),
		CreateQuery:     m.createQuery,
		Chat:            append([]ChatMessage(nil), m.chat...),
		Documents:       append([]Body(nil), m.documents...),
	}
	for _, u := range m.users {
		out.Attendees = append(out.Attendees, Attendee{u.userID, u.internalID, u.fullName, u.role, u.customdata.toMap()})
	}
	return out
}

func (r *recording) snapshot() Recording {
	out := Recording{
		RecordID:     r.id,
		MeetingID:    r.meetingID,
		Name:         r.name,
		State:        r.state,
		StartTime:    r.startTime,
		EndTime:      r.endTime,
		Participants: r.participants,
		Metadata:     r.meta.toMap(),
		IsBreakout:   r.isBreakout,
		ParentID:     r.parentID,
		Sequence:     r.sequence,
		PlaybackURL:  r.playbackURL(),
	}
	for _, t := range r.tracks {
		out.TextTracks = append(out.TextTracks, TextTrack{t.kind, t.lang, t.label, t.data})
	}
	return out
}

func (h *hook) snapshot() Hook {
	out := Hook{ID: h.id, CallbackURL: h.callbackURL, MeetingID: h.meetingID, Raw: h.raw}
	if h.hasEvents {
		out.EventIDs = append([]string{}, h.eventIDs...)
	}
	return out
}

// Meetings returns snapshots of the running meetings, breakout rooms
// included, ordered by creation.
func (s *Server) Meetings() []Meeting {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.state().sortedMeetings()
	out := make([]Meeting, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.snapshot())
	}
	return out
}

// Meeting returns a snapshot of the running meeting with the external ID,
// or an error wrapping ErrNotFound.
func (s *Server) Meeting(id string) (Meeting, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state().meetings[id]
	if m == nil {
		return Meeting{}, fmt.Errorf("meeting %q: %w", id, ErrNotFound)
	}
	return m.snapshot(), nil
}

// MeetingCount returns the number of running meetings, breakout rooms
// included.
func (s *Server) MeetingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.state().meetings)
}

// Recordings returns snapshots of all recordings, deleted ones included, in
// the order they were made.
func (s *Server) Recordings() []Recording {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	out := make([]Recording, 0, len(st.recOrder))
	for _, r := range st.recOrder {
		out = append(out, r.snapshot())
	}
	return out
}

// Recording returns a snapshot of the recording with the ID, or an error
// wrapping ErrNotFound.
func (s *Server) Recording(recordID string) (Recording, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.state().recordings[recordID]
	if r == nil {
		return Recording{}, fmt.Errorf("recording %q: %w", recordID, ErrNotFound)
	}
	return r.snapshot(), nil
}

// Hooks returns the registered webhooks ordered by ID.
func (s *Server) Hooks() []Hook {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.state().sortedHooks()
	out := make([]Hook, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.snapshot())
	}
	return out
}

// CreateBodies returns the bodies (XML or form) of every POST create call
// received for the external meeting ID, in order, byte for byte with their
// Content-Type, duplicates and failed creates included.
func (s *Server) CreateBodies(meetingID string) []Body {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Body(nil), s.state().bodies[meetingID]...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
