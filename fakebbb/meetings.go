package fakebbb

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// defaultDialNumber is bbb-web's default dial-in number.
const defaultDialNumber = "613-555-1234"

// endedRetention is how long an ended meeting is remembered, so that a join
// answers meetingForciblyEnded rather than notFound.
const (
	endedRetention = time.Minute
	endedMax       = 10000
)

// meeting is one meeting, guarded by Server.mu.
type meeting struct {
	id, internalID, name    string
	createTime              int64
	createDate              string
	attendeePW, moderatorPW string
	voiceBridge, dialNumber string
	duration, maxUsers      int
	record, keepEvents      bool
	guestPolicy             string
	meta                    *metadata
	endedURL                string
	users                   []*attendee
	joined                  int // users ever counted
	startTime, endTime      int64
	ended, forciblyEnded    bool
	isBreakout              bool
	parentID                string // parent's internal ID
	sequence                int
	freeJoin                bool
	breakouts               []string // internal IDs of breakout rooms
	createQuery             string
	sessions                []string
	chat                    []ChatMessage
	documents               []Body
	base                    string
}

// attendee is a user counted in a meeting.
type attendee struct {
	userID, internalID, fullName, role string
	customdata                         *metadata
}

// session is what a join creates: a token the browser presents to the
// client.
type session struct {
	seq       int
	token     string
	authToken string
	meeting   *meeting
	user      *attendee
	guestWait bool
	entered   bool
}

const (
	alnumLower = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func (st *state) randString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[st.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// sha1Hex returns the lower-case hex SHA-1 of s, as BBB derives IDs.
func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// createMillis returns a creation time in milliseconds, strictly
// increasing across the server so internal IDs never collide.
func (s *Server) createMillis(st *state) int64 {
	t := s.now().UnixMilli()
	if t <= st.lastCreate {
		t = st.lastCreate + 1
	}
	st.lastCreate = t
	return t
}

// javaDate formats t like java.util.Date.toString in UTC.
func javaDate(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("Mon Jan 02 15:04:05 MST 2006")
}

// newVoiceBridge picks an unused 5-digit voice bridge.
func (st *state) newVoiceBridge() string {
	for range 1000 {
		vb := strconv.Itoa(10000 + st.rng.IntN(90000))
		if _, used := st.voice[vb]; !used {
			return vb
		}
	}
	for n := 10000; n < 100000; n++ {
		if vb := strconv.Itoa(n); st.voice[vb] == "" {
			return vb
		}
	}
	return strconv.Itoa(100000 + len(st.voice))
}

// validateMeetingID applies BBB's meetingID constraints.
func validateMeetingID(id string) *apiError {
	switch n := utf8.RuneCountInString(id); {
	case n == 0:
		return errMissingMeetingID
	case n < 2 || n > 256:
		return errMeetingIDLength
	case strings.Contains(id, ","):
		return errMeetingIDComma
	}
	return nil
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n
	}
	return def
}

// newMeeting stores a new meeting. Call with s.mu held.
func (s *Server) newMeeting(st *state, m *meeting) {
	m.createTime = s.createMillis(st)
	m.createDate = javaDate(m.createTime)
	m.startTime = m.createTime
	m.internalID = sha1Hex(m.id) + "-" + strconv.FormatInt(m.createTime, 10)
	if m.voiceBridge == "" {
		m.voiceBridge = st.newVoiceBridge()
	}
	if m.dialNumber == "" {
		m.dialNumber = defaultDialNumber
	}
	if m.meta == nil {
		m.meta = &metadata{}
	}
	if m.guestPolicy == "" {
		m.guestPolicy = "ALWAYS_ACCEPT"
	}
	delete(st.ended, m.id)
	st.meetings[m.id] = m
	st.byInternal[m.internalID] = m
	st.voice[m.voiceBridge] = m.id
	s.emitLocked(st, meetingCreatedEvent(s, m))
}

func (s *Server) create(w http.ResponseWriter, _ *http.Request, req *request) {
	p := req.all
	id := p.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		writeError(w, e)
		return
	}
	name := p.get("name")
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		writeError(w, errMissingName)
		return
	case n < 2 || n > 256:
		writeError(w, errNameLength)
		return
	}
	apw, mpw := p.get("attendeePW"), p.get("moderatorPW")
	for _, pw := range []string{apw, mpw} {
		if n := utf8.RuneCountInString(pw); n != 0 && (n < 2 || n > 64) {
			writeError(w, errPasswordLength)
			return
		}
	}
	record, ok := parseBool(p.get("record"))
	if !ok {
		writeError(w, errRecordFormat)
		return
	}
	vb := strings.TrimSpace(p.get("voiceBridge"))
	if vb != "" {
		if _, err := strconv.Atoi(vb); err != nil {
			writeError(w, errVoiceBridgeFormat)
			return
		}
	}
	isBreakout, _ := parseBool(p.get("isBreakout"))
	keepEvents, _ := parseBool(p.get("meetingKeepEvents"))
	freeJoin, _ := parseBool(p.get("freeJoin"))

	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	if m := st.meetings[id]; m != nil {
		if (apw == "" && mpw == "") || (apw == m.attendeePW && mpw == m.moderatorPW) {
			writeXML(w, createXML(m, "duplicateWarning", "This conference was already in existence and may currently be in progress."))
			return
		}
		writeError(w, errIDNotUnique)
		return
	}
	if other, used := st.voice[vb]; vb != "" && used && other != id {
		writeError(w, errVoiceBridgeInUse)
		return
	}
	m := &meeting{
		id:          id,
		name:        name,
		attendeePW:  apw,
		moderatorPW: mpw,
		voiceBridge: vb,
		dialNumber:  p.get("dialNumber"),
		duration:    atoiOr(p.get("duration"), 0),
		maxUsers:    atoiOr(p.get("maxParticipants"), 0),
		record:      record,
		keepEvents:  keepEvents,
		guestPolicy: strings.ToUpper(p.get("guestPolicy")),
		meta:        p.meta(),
		endedURL:    p.get("meetingEndedURL"),
		createQuery: stripChecksum(req.rawQuery, p.get("checksum")),
		base:        req.base,
	}
	if isBreakout {
		parentID := p.get("parentMeetingID")
		if parentID == "" {
			writeError(w, errParentMissing)
			return
		}
		parent := st.byInternal[parentID]
		if parent == nil {
			writeError(w, errParentNotFound)
			return
		}
		m.isBreakout, m.parentID, m.freeJoin = true, parentID, freeJoin
		m.sequence = atoiOr(p.get("sequence"), len(parent.breakouts)+1)
	}
	if m.attendeePW == "" {
		m.attendeePW = st.randString(8, alnum)
	}
	if m.moderatorPW == "" {
		m.moderatorPW = st.randString(8, alnum)
	}
	s.newMeeting(st, m)
	if m.isBreakout {
		parent := st.byInternal[m.parentID]
		parent.breakouts = append(parent.breakouts, m.internalID)
	}
	writeXML(w, createXML(m, "", ""))
}

// createXML renders the create answer (create-meeting.ftlx).
func createXML(m *meeting, key, msg string) []byte {
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.el("meetingID", m.id)
	x.el("internalMeetingID", m.internalID)
	parent := "bbb-none"
	if m.isBreakout {
		parent = m.parentID
	}
	x.el("parentMeetingID", parent)
	if m.attendeePW != "" {
		x.el("attendeePW", m.attendeePW)
	}
	if m.moderatorPW != "" {
		x.el("moderatorPW", m.moderatorPW)
	}
	x.int("createTime", m.createTime)
	x.el("voiceBridge", m.voiceBridge)
	x.el("dialNumber", m.dialNumber)
	x.el("createDate", m.createDate)
	x.bool("hasUserJoined", m.joined > 0)
	x.int("duration", int64(m.duration))
	x.bool("hasBeenForciblyEnded", m.forciblyEnded)
	x.el("messageKey", key)
	x.el("message", msg)
	return x.bytes()
}

// redirectWanted applies bbb-web's rule: redirect unless the parameter is
// present and not "true" (Boolean.parseBoolean).
func redirectWanted(p params) bool {
	v := p.get("redirect")
	return v == "" || strings.EqualFold(v, "true")
}

func (s *Server) join(w http.ResponseWriter, r *http.Request, req *request) {
	if e := apiChecksum(s, req); e != nil {
		s.joinError(w, r, req, e)
		return
	}
	p := req.all
	id := p.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		s.joinError(w, r, req, e)
		return
	}
	fullName := p.get("fullName")
	if fullName == "" {
		s.joinError(w, r, req, errMissingFullName)
		return
	}
	s.mu.Lock()
	st := s.state()
	sess, e := s.joinLocked(st, p, id, fullName)
	s.mu.Unlock()
	if e != nil {
		s.joinError(w, r, req, e)
		return
	}
	target := req.base + "/html5client/join?sessionToken=" + sess.token
	key, msg, status := "successfullyJoined", "You have joined successfully.", "ALLOW"
	if sess.guestWait {
		target = req.base + "/html5client/guestWait?sessionToken=" + sess.token
		key, msg, status = "guestWait", "Guest waiting for approval to join meeting.", "WAIT"
	}
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: sess.authToken + strings.ToUpper(sess.token), Path: "/bigbluebutton", HttpOnly: true})
	if redirectWanted(p) {
		w.Header().Set("Location", target)
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.el("messageKey", key)
	x.el("message", msg)
	x.el("meeting_id", sess.meeting.internalID)
	x.el("user_id", sess.user.internalID)
	x.el("auth_token", sess.authToken)
	x.el("session_token", sess.token)
	x.el("guestStatus", status)
	x.el("url", target)
	writeXML(w, x.bytes())
}

// joinLocked validates a join against the meeting and creates the session.
// Call with s.mu held.
func (s *Server) joinLocked(st *state, p params, id, fullName string) (*session, *apiError) {
	m := st.meetings[id]
	if m == nil {
		if st.ended[id] != nil {
			return nil, errForciblyEnded
		}
		return nil, errNotFound
	}
	if ct := p.get("createTime"); ct != "" && ct != strconv.FormatInt(m.createTime, 10) {
		return nil, errMismatchCreateTime
	}
	role := strings.ToUpper(p.get("role"))
	if role != "MODERATOR" && role != "VIEWER" {
		switch pw := p.get("password"); {
		case pw != "" && pw == m.moderatorPW:
			role = "MODERATOR"
		case pw != "" && pw == m.attendeePW:
			role = "VIEWER"
		default:
			return nil, errInvalidPassword
		}
	}
	guest, _ := parseBool(p.get("guest"))
	wait := false
	if guest {
		switch m.guestPolicy {
		case "ALWAYS_DENY":
			return nil, errGuestDenied
		case "ASK_MODERATOR":
			wait = true
		}
	}
	if m.maxUsers > 0 && len(m.users) >= m.maxUsers {
		return nil, errMaxParticipants
	}
	u := &attendee{
		internalID: "w_" + st.randString(12, alnumLower),
		fullName:   fullName,
		role:       role,
		customdata: p.userdata(),
	}
	u.userID = p.get("userID")
	if u.userID == "" {
		u.userID = u.internalID
	}
	st.userSeq++
	sess := &session{
		seq:       st.userSeq,
		token:     st.randString(16, alnumLower),
		authToken: st.randString(12, alnumLower),
		meeting:   m,
		user:      u,
		guestWait: wait,
	}
	st.sessions[sess.token] = sess
	m.sessions = append(m.sessions, sess.token)
	return sess, nil
}

// joinError delivers a join error as bbb-web 2.7+/3.0 does: XML with
// redirect=false, otherwise a 302 to errorRedirectUrl (or the server's
// URL) with errors=[{"key":…,"message":…}] added to its query.
func (s *Server) joinError(w http.ResponseWriter, r *http.Request, req *request, e *apiError) {
	if !redirectWanted(req.all) {
		writeError(w, e)
		return
	}
	target := req.all.get("errorRedirectUrl")
	if u, err := url.Parse(target); target == "" || err != nil || !u.IsAbs() {
		target = s.baseURL(r)
	}
	js, _ := json.Marshal([]map[string]string{{"key": e.key, "message": e.message}})
	enc := strings.ReplaceAll(url.QueryEscape(string(js)), "+", "%20")
	frag := ""
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target, frag = target[:i], target[i:]
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	w.Header().Set("Location", target+sep+"errors="+enc+frag)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusFound)
}

// serveClientJoin is the HTML5 client's entry page: following a join
// redirect counts the user as a participant.
func (s *Server) serveClientJoin(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("sessionToken")
	s.mu.Lock()
	st := s.state()
	sess := st.sessions[token]
	if sess == nil || sess.meeting.ended {
		s.mu.Unlock()
		writeHTML(w, http.StatusNotFound, "Invalid session", "This session is not valid (anymore).")
		return
	}
	if sess.guestWait {
		s.mu.Unlock()
		writeHTML(w, http.StatusOK, "Waiting", "Waiting for a moderator to approve you.")
		return
	}
	if !sess.entered {
		sess.entered = true
		s.addUserLocked(st, sess.meeting, sess.user)
	}
	name, meeting := sess.user.fullName, sess.meeting.name
	s.mu.Unlock()
	writeHTML(w, http.StatusOK, meeting, "Joined "+meeting+" as "+name+".")
}

// serveGuestWait is the guest lobby page; it counts nobody.
func (s *Server) serveGuestWait(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("sessionToken")
	s.mu.Lock()
	sess := s.state().sessions[token]
	s.mu.Unlock()
	if sess == nil {
		writeHTML(w, http.StatusNotFound, "Invalid session", "This session is not valid (anymore).")
		return
	}
	writeHTML(w, http.StatusOK, "Waiting", "Waiting for a moderator to approve you.")
}

func writeHTML(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>"+html.EscapeString(title)+
		"</title></head><body><p>"+html.EscapeString(text)+"</p></body></html>")
}

// addUserLocked counts u in m. Call with s.mu held.
func (s *Server) addUserLocked(st *state, m *meeting, u *attendee) {
	m.users = append(m.users, u)
	m.joined++
	s.emitLocked(st, userEvent(s, "user-joined", m, u))
}

func (s *Server) end(w http.ResponseWriter, _ *http.Request, req *request) {
	id := req.all.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	st := s.state()
	m := st.meetings[id]
	if m == nil {
		s.mu.Unlock()
		writeError(w, errNotFound)
		return
	}
	if d := s.EndDelay; d > 0 {
		internal := m.internalID
		s.sched.schedule("end:"+internal, d, nil, func(context.Context, int) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if m := s.state().byInternal[internal]; m != nil {
				s.endLocked(s.state(), m)
			}
			return nil
		})
	} else {
		s.endLocked(st, m)
	}
	s.mu.Unlock()
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.el("messageKey", "sentEndMeetingRequest")
	x.el("message", "A request to end the meeting was sent.  Please wait a few seconds, and then use the getMeetingInfo or isMeetingRunning API calls to verify that it was ended.")
	writeXML(w, x.bytes())
}

// endLocked ends m and its breakout rooms: users leave, the meeting is
// forgotten (remembered briefly as ended), end callbacks are sent and a
// recording is produced if it was recorded. Call with s.mu held.
func (s *Server) endLocked(st *state, m *meeting) {
	if m.ended {
		return
	}
	for _, b := range append([]string(nil), m.breakouts...) {
		if bm := st.byInternal[b]; bm != nil {
			s.endLocked(st, bm)
		}
	}
	m.ended, m.forciblyEnded = true, true
	m.endTime = s.now().UnixMilli()
	if m.isBreakout {
		if parent := st.byInternal[m.parentID]; parent != nil {
			parent.breakouts = removeString(parent.breakouts, m.internalID)
		}
	}
	if u, ok := m.meta.get("analytics-callback-url"); ok && u != "" && (m.record || m.keepEvents) {
		s.analyticsLocked(m, u)
	}
	for i := len(m.users) - 1; i >= 0; i-- {
		s.emitLocked(st, userEvent(s, "user-left", m, m.users[i]))
	}
	m.users = nil
	for _, t := range m.sessions {
		delete(st.sessions, t)
	}
	m.sessions = nil
	if st.meetings[m.id] == m {
		delete(st.meetings, m.id)
	}
	delete(st.byInternal, m.internalID)
	if st.voice[m.voiceBridge] == m.id {
		delete(st.voice, m.voiceBridge)
	}
	st.ended[m.id] = m
	st.endedQ = append(st.endedQ, m)
	for len(st.endedQ) > 0 && (len(st.endedQ) > endedMax || st.endedQ[0].endTime < m.endTime-endedRetention.Milliseconds()) {
		old := st.endedQ[0]
		st.endedQ[0] = nil
		st.endedQ = st.endedQ[1:]
		if st.ended[old.id] == old {
			delete(st.ended, old.id)
		}
	}
	s.emitLocked(st, meetingEvent(s, "meeting-ended", m))
	if !m.isBreakout {
		s.endCallbacksLocked(m)
	}
	if m.record {
		s.recordLocked(st, m)
	}
}

func removeString(list []string, s string) []string {
	out := list[:0]
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func (s *Server) isMeetingRunning(w http.ResponseWriter, _ *http.Request, req *request) {
	id := req.all.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	m := s.state().meetings[id]
	running := m != nil && len(m.users) > 0
	s.mu.Unlock()
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.bool("running", running)
	writeXML(w, x.bytes())
}

func (s *Server) getMeetingInfo(w http.ResponseWriter, _ *http.Request, req *request) {
	id := req.all.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		writeError(w, e)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.state().meetings[id]
	if m == nil {
		writeError(w, errNotFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	writeMeeting(x, m, false)
	writeXML(w, x.bytes())
}

// writeMeeting writes a meeting's elements as get-meeting-info.ftlx does
// (all=false: passwords only when non-empty) or get-meetings.ftlx does
// (all=true: passwords always).
func writeMeeting(x *xmlBuf, m *meeting, all bool) {
	x.el("meetingName", m.name)
	x.el("meetingID", m.id)
	x.el("internalMeetingID", m.internalID)
	x.int("createTime", m.createTime)
	x.el("createDate", m.createDate)
	x.el("voiceBridge", m.voiceBridge)
	x.el("dialNumber", m.dialNumber)
	if all || m.attendeePW != "" {
		x.el("attendeePW", m.attendeePW)
	}
	if all || m.moderatorPW != "" {
		x.el("moderatorPW", m.moderatorPW)
	}
	x.bool("running", len(m.users) > 0)
	x.int("duration", int64(m.duration))
	x.bool("hasUserJoined", m.joined > 0)
	x.bool("recording", m.record)
	x.bool("hasBeenForciblyEnded", m.forciblyEnded)
	x.int("startTime", m.startTime)
	x.int("endTime", m.endTime)
	moderators := 0
	for _, u := range m.users {
		if u.role == "MODERATOR" {
			moderators++
		}
	}
	x.int("participantCount", int64(len(m.users)))
	x.int("listenerCount", 0)
	x.int("voiceParticipantCount", 0)
	x.int("videoCount", 0)
	x.int("maxUsers", int64(m.maxUsers))
	x.int("moderatorCount", int64(moderators))
	x.open("attendees")
	for i, u := range m.users {
		x.open("attendee")
		x.el("userID", u.userID)
		x.el("fullName", u.fullName)
		x.el("role", u.role)
		x.bool("isPresenter", i == 0)
		x.bool("isListeningOnly", false)
		x.bool("hasJoinedVoice", false)
		x.bool("hasVideo", false)
		x.el("clientType", "HTML5")
		if u.customdata.len() > 0 {
			x.open("customdata")
			u.customdata.each(func(k, v string) { x.el(k, v) })
			x.close("customdata")
		}
		x.close("attendee")
	}
	x.close("attendees")
	x.open("metadata")
	m.meta.each(func(k, v string) { x.el(k, v) })
	x.close("metadata")
	x.bool("isBreakout", m.isBreakout)
	if m.isBreakout {
		x.el("parentMeetingID", m.parentID)
		x.int("sequence", int64(m.sequence))
		x.bool("freeJoin", m.freeJoin)
	}
	if len(m.breakouts) > 0 {
		x.open("breakoutRooms")
		for _, b := range m.breakouts {
			x.el("breakout", b)
		}
		x.close("breakoutRooms")
	}
}

// sortedMeetings returns the active meetings by createTime, then ID.
func (st *state) sortedMeetings() []*meeting {
	ms := make([]*meeting, 0, len(st.meetings))
	for _, m := range st.meetings {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].createTime != ms[j].createTime {
			return ms[i].createTime < ms[j].createTime
		}
		return ms[i].id < ms[j].id
	})
	return ms
}

func (s *Server) getMeetings(w http.ResponseWriter, _ *http.Request, _ *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := s.state().sortedMeetings()
	x := newXML()
	x.el("returncode", "SUCCESS")
	if len(ms) == 0 {
		x.empty("meetings")
		x.el("messageKey", "noMeetings")
		x.el("message", "no meetings were found on this server")
		writeXML(w, x.bytes())
		return
	}
	x.open("meetings")
	for _, m := range ms {
		x.open("meeting")
		writeMeeting(x, m, true)
		x.close("meeting")
	}
	x.close("meetings")
	writeXML(w, x.bytes())
}

func (s *Server) getSessions(w http.ResponseWriter, _ *http.Request, _ *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	ss := make([]*session, 0, len(st.sessions))
	for _, sess := range st.sessions {
		ss = append(ss, sess)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].seq < ss[j].seq })
	x := newXML()
	x.el("returncode", "SUCCESS")
	if len(ss) == 0 {
		x.empty("sessions")
		x.el("messageKey", "noSessions")
		// The typo is bbb-web's own.
		x.el("message", "no sessions were found on this serverr")
		writeXML(w, x.bytes())
		return
	}
	x.open("sessions")
	for _, sess := range ss {
		x.open("meeting")
		x.el("meetingID", sess.meeting.internalID)
		x.el("meetingName", sess.meeting.name)
		x.el("userName", sess.user.fullName)
		x.close("meeting")
	}
	x.close("sessions")
	writeXML(w, x.bytes())
}

func (s *Server) sendChatMessage(w http.ResponseWriter, _ *http.Request, req *request) {
	p := req.all
	id := p.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		writeError(w, e)
		return
	}
	msg := p.get("message")
	if n := utf8.RuneCountInString(msg); n < 1 || n > 500 {
		writeError(w, errChatMessage)
		return
	}
	user := p.get("userName")
	if utf8.RuneCountInString(user) > 255 {
		writeError(w, errChatUserName)
		return
	}
	if user == "" {
		user = "System"
	}
	s.mu.Lock()
	m := s.state().meetings[id]
	if m != nil {
		m.chat = append(m.chat, ChatMessage{UserName: user, Message: msg})
	}
	s.mu.Unlock()
	if m == nil {
		writeError(w, errChatMeetingNotFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.el("messageKey", "")
	x.el("message", "")
	writeXML(w, x.bytes())
}

func (s *Server) insertDocument(w http.ResponseWriter, _ *http.Request, req *request) {
	id := req.all.get("meetingID")
	if e := validateMeetingID(id); e != nil {
		writeError(w, e)
		return
	}
	if len(req.body) == 0 {
		writeError(w, errEmptyDocument)
		return
	}
	if !wellFormedXML(req.body) {
		writeError(w, errBadDocument)
		return
	}
	s.mu.Lock()
	m := s.state().meetings[id]
	if m != nil {
		m.documents = append(m.documents, Body{ContentType: req.contentType, Data: req.body})
	}
	s.mu.Unlock()
	if m == nil {
		writeError(w, errNotFound)
		return
	}
	x := newXML()
	x.el("returncode", "SUCCESS")
	x.el("messageKey", "")
	x.el("message", "Presentation is being uploaded")
	writeXML(w, x.bytes())
}

// wellFormedXML reports whether b is one well-formed XML document.
func wellFormedXML(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	root := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			return false
		}
		if _, ok := tok.(xml.StartElement); ok {
			root = true
		}
	}
}

// AddParticipants counts n more users (role VIEWER) in the meeting with the
// external ID, as if they had joined; the meeting then runs. It returns an
// error wrapping ErrNotFound for an unknown meeting.
func (s *Server) AddParticipants(meetingID string, n int) error {
	if n < 0 {
		return fmt.Errorf("add participants: negative count %d", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	m := st.meetings[meetingID]
	if m == nil {
		return fmt.Errorf("add participants to %q: %w", meetingID, ErrNotFound)
	}
	for range n {
		st.userSeq++
		u := &attendee{
			userID:     "fake-user-" + strconv.Itoa(st.userSeq),
			internalID: "w_" + st.randString(12, alnumLower),
			fullName:   "Participant " + strconv.Itoa(st.userSeq),
			role:       "VIEWER",
		}
		s.addUserLocked(st, m, u)
	}
	return nil
}

// RemoveParticipants makes the last n users of the meeting leave (all of
// them if it has fewer). It returns an error wrapping ErrNotFound for an
// unknown meeting.
func (s *Server) RemoveParticipants(meetingID string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	m := st.meetings[meetingID]
	if m == nil {
		return fmt.Errorf("remove participants from %q: %w", meetingID, ErrNotFound)
	}
	for ; n > 0 && len(m.users) > 0; n-- {
		u := m.users[len(m.users)-1]
		m.users[len(m.users)-1] = nil
		m.users = m.users[:len(m.users)-1]
		s.emitLocked(st, userEvent(s, "user-left", m, u))
	}
	return nil
}

// EndMeeting ends the meeting with the external ID as if a moderator had
// ended it in the client: immediately, with end callbacks, webhook events
// and (if recorded) a recording. It returns an error wrapping ErrNotFound
// for an unknown meeting.
func (s *Server) EndMeeting(meetingID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	m := st.meetings[meetingID]
	if m == nil {
		return fmt.Errorf("end meeting %q: %w", meetingID, ErrNotFound)
	}
	s.endLocked(st, m)
	return nil
}

// CreateBreakouts creates n breakout rooms of the meeting with the external
// ID the way BBB does (the LB never sees these creates): external IDs
// sha1hex(parentInternalID-timestamp-sequence)-timestamp, isBreakout=true,
// parentMeetingID = the parent's internal ID, sequences continuing after
// existing rooms, freeJoin=false, not recorded. It returns the rooms'
// external IDs, or an error wrapping ErrNotFound for an unknown meeting.
func (s *Server) CreateBreakouts(meetingID string, n int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("create breakouts: count %d, want at least 1", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	parent := st.meetings[meetingID]
	if parent == nil {
		return nil, fmt.Errorf("create breakouts of %q: %w", meetingID, ErrNotFound)
	}
	if parent.isBreakout {
		return nil, fmt.Errorf("create breakouts of %q: a breakout room cannot have breakout rooms", meetingID)
	}
	ts := strconv.FormatInt(s.now().UnixMilli(), 10)
	ids := make([]string, 0, n)
	for range n {
		seq := len(parent.breakouts) + 1
		ext := sha1Hex(parent.internalID+"-"+ts+"-"+strconv.Itoa(seq)) + "-" + ts
		b := &meeting{
			id:          ext,
			name:        parent.name + " (Room " + strconv.Itoa(seq) + ")",
			attendeePW:  parent.attendeePW,
			moderatorPW: parent.moderatorPW,
			isBreakout:  true,
			parentID:    parent.internalID,
			sequence:    seq,
			base:        parent.base,
		}
		s.newMeeting(st, b)
		parent.breakouts = append(parent.breakouts, b.internalID)
		ids = append(ids, ext)
	}
	return ids, nil
}
