package fakebbb

// event is a webhook event as bbb-webhooks sends it (getRaw=false form).
// Hooks registered with getRaw=true receive the same processed form.
type event struct {
	id        string // "meeting-created", "user-joined", …
	meetingID string // external meeting ID, for per-meeting hooks
	base      string // public base URL of the meeting, for the domain
	ts        int64  // event time, milliseconds
	attrs     any    // the "attributes" object
	data      []byte // JSON {"data":{…}}, built on first use
}

// json returns the event's JSON, building it once.
func (e *event) json() []byte {
	if e.data == nil {
		e.data = marshalJSON(evEnvelope{evData{Type: "event", ID: e.id, Attributes: e.attrs, Event: evTS{e.ts}}})
	}
	return e.data
}

type evEnvelope struct {
	Data evData `json:"data"`
}

type evData struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes any    `json:"attributes"`
	Event      evTS   `json:"event"`
}

type evTS struct {
	TS int64 `json:"ts"`
}

type evMeeting struct {
	InternalMeetingID string `json:"internal-meeting-id"`
	ExternalMeetingID string `json:"external-meeting-id"`
}

type evMeetingCreated struct {
	InternalMeetingID string            `json:"internal-meeting-id"`
	ExternalMeetingID string            `json:"external-meeting-id"`
	Name              string            `json:"name"`
	IsBreakout        bool              `json:"is-breakout"`
	ParentID          string            `json:"parent-id"`
	Duration          int               `json:"duration"`
	CreateTime        int64             `json:"create-time"`
	CreateDate        string            `json:"create-date"`
	ModeratorPass     string            `json:"moderator-pass"`
	ViewerPass        string            `json:"viewer-pass"`
	Record            bool              `json:"record"`
	VoiceConf         string            `json:"voice-conf"`
	DialNumber        string            `json:"dial-number"`
	MaxUsers          int               `json:"max-users"`
	Metadata          map[string]string `json:"metadata"`
}

type evUser struct {
	InternalUserID string `json:"internal-user-id"`
	ExternalUserID string `json:"external-user-id"`
	Name           string `json:"name"`
	Role           string `json:"role"`
	Presenter      bool   `json:"presenter"`
}

type evRapPublishEnded struct {
	Meeting   evMeeting   `json:"meeting"`
	RecordID  string      `json:"record-id"`
	Success   bool        `json:"success"`
	StepTime  int64       `json:"step-time"`
	Workflow  string      `json:"workflow"`
	Recording evRecording `json:"recording"`
}

type evRecording struct {
	Name       string            `json:"name"`
	IsBreakout bool              `json:"is-breakout"`
	StartTime  int64             `json:"start-time"`
	EndTime    int64             `json:"end-time"`
	Size       int64             `json:"size"`
	RawSize    int64             `json:"raw-size"`
	Metadata   map[string]string `json:"metadata"`
	Playback   evPlayback        `json:"playback"`
	Download   struct{}          `json:"download"`
}

type evPlayback struct {
	Format         string `json:"format"`
	Link           string `json:"link"`
	ProcessingTime int64  `json:"processing_time"`
	Duration       int64  `json:"duration"`
	Size           int64  `json:"size"`
}

func (s *Server) newEvent(id, meetingID, base string, attrs any) *event {
	return &event{id: id, meetingID: meetingID, base: base, ts: s.now().UnixMilli(), attrs: attrs}
}

func meetingCreatedEvent(s *Server, m *meeting) *event {
	parent := "bbb-none"
	if m.isBreakout {
		parent = m.parentID
	}
	md := m.meta.toMap()
	if md == nil {
		md = map[string]string{}
	}
	return s.newEvent("meeting-created", m.id, m.base, map[string]any{"meeting": evMeetingCreated{
		InternalMeetingID: m.internalID,
		ExternalMeetingID: m.id,
		Name:              m.name,
		IsBreakout:        m.isBreakout,
		ParentID:          parent,
		Duration:          m.duration,
		CreateTime:        m.createTime,
		CreateDate:        m.createDate,
		ModeratorPass:     m.moderatorPW,
		ViewerPass:        m.attendeePW,
		Record:            m.record,
		VoiceConf:         m.voiceBridge,
		DialNumber:        m.dialNumber,
		MaxUsers:          m.maxUsers,
		Metadata:          md,
	}})
}

func meetingEvent(s *Server, id string, m *meeting) *event {
	return s.newEvent(id, m.id, m.base, map[string]any{"meeting": evMeeting{m.internalID, m.id}})
}

func userEvent(s *Server, id string, m *meeting, u *attendee) *event {
	presenter := len(m.users) > 0 && m.users[0] == u
	return s.newEvent(id, m.id, m.base, struct {
		Meeting evMeeting `json:"meeting"`
		User    evUser    `json:"user"`
	}{evMeeting{m.internalID, m.id}, evUser{u.internalID, u.userID, u.fullName, u.role, presenter}})
}

func rapEvent(s *Server, id string, r *recording) *event {
	return s.newEvent(id, r.meetingID, r.base, map[string]any{"meeting": evMeeting{r.id, r.meetingID}})
}

func rapPublishEndedEvent(s *Server, r *recording) *event {
	md := r.meta.toMap()
	if md == nil {
		md = map[string]string{}
	}
	md["meetingId"], md["meetingName"] = r.meetingID, r.name
	return s.newEvent("rap-publish-ended", r.meetingID, r.base, evRapPublishEnded{
		Meeting:  evMeeting{r.id, r.meetingID},
		RecordID: r.id,
		Success:  true,
		StepTime: 1000,
		Workflow: "presentation",
		Recording: evRecording{
			Name:       r.name,
			IsBreakout: r.isBreakout,
			StartTime:  r.startTime,
			EndTime:    r.endTime,
			Metadata:   md,
			Playback: evPlayback{
				Format:         "presentation",
				Link:           r.playbackURL(),
				ProcessingTime: 1000,
				Duration:       r.endTime - r.startTime,
			},
		},
	})
}
