package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
)

// The meeting calls: create, join, end, isMeetingRunning, getMeetingInfo,
// getMeetings, insertDocument and sendChatMessage.

// Answers tinyscale gives itself, shaped as a BBB server gives them.
var (
	// errMissingFullName is bbb-web 2.5+'s answer to a join without a
	// name (an unkeyed constraint, hence validationError).
	errMissingFullName = bbb.NewError("validationError", "You must provide your name")
	// errNoDocument answers an insertDocument without a body, for which
	// bbb-web renders nothing at all.
	errNoDocument = bbb.NewError("validationError", "You must provide a document in the request body")
	// errChatMeetingNotFound is BBB 3.0's answer to a sendChatMessage for
	// a meeting that does not run (its own key, not notFound).
	errChatMeetingNotFound = bbb.NewError("meetingNotFound", "Meeting not found or not active")
	// errUnknownMeeting marks a meeting that runs on no reachable server.
	errUnknownMeeting = errors.New("meeting runs on no reachable server")
	// errBackendChecksum marks a server that rejected tinyscale's own
	// checksum: its secret or algorithm is configured wrongly in tinyscale.
	// Clients get serverUnavailable, never checksumError, which would
	// blame their own secret.
	errBackendChecksum = errors.New("server rejected tinyscale's checksum; check its secret and algorithm")
)

const keyChecksumError = "checksumError"

// notRunningXML is isMeetingRunning's answer for a meeting that does not run.
const notRunningXML = "<response><returncode>SUCCESS</returncode><running>false</running></response>"

// create forwards a create to the server that holds the meeting, or places
// it (see place.go). The client's parameters are forwarded byte for byte
// (callback URLs swapped by rewriteCreate), an XML body with its
// Content-Type.
//
// If the server of a newly placed meeting provably did not create it (the
// connection was refused, or it rejected tinyscale's checksum), the create
// is placed once more on another server. Any other failure (timeout, 5xx,
// a malformed answer) releases the claim and answers serverUnavailable;
// the next create places the meeting again. Retrying those elsewhere
// could leave the meeting on two servers, since the first may have
// created it after all (a later create then finds it by lookup).
func (g *Gateway) create(ctx context.Context, x *exchange) error {
	id := x.req.Params.Get(bbb.ParamMeetingID)
	if e := bbb.ValidateMeetingID(id); e != nil {
		return e
	}
	q := x.req.Params.Del(bbb.ParamChecksum)
	// From here on a claim may be taken: finish even if the client leaves.
	ctx = context.WithoutCancel(ctx)
	m, claimed, err := g.createTarget(ctx, id, q)
	if err != nil {
		return err
	}
	for retried := false; ; retried = true {
		b, ok := g.cfg.Fleet.Backend(m.ServerID)
		if !ok {
			if claimed {
				g.release(ctx, id, m.ServerID)
			}
			return fmt.Errorf("create %q: server %s is not configured: %w", id, m.ServerID, bbb.ErrServerUnavailable)
		}
		x.server = b.ID
		a, err := g.sendCreate(ctx, x, q, b)
		if err == nil {
			g.finishCreate(ctx, x, m, claimed, b, a)
			return nil
		}
		if claimed {
			g.release(ctx, id, b.ID)
		}
		if claimed && !retried && (notSent(err) || errors.Is(err, errBackendChecksum)) {
			g.log.Warn("server did not take create; placing elsewhere", "meetingID", id, "server", b.ID, "err", err)
			m, claimed, err = g.place(ctx, id, q, "", b.ID)
			if err != nil {
				return err
			}
			continue
		}
		g.log.Warn("create failed", "meetingID", id, "server", b.ID, "err", err)
		return bbb.ErrServerUnavailable
	}
}

// createAnswer is a server's answer to a create.
type createAnswer struct {
	*answer
	entry  bbb.MeetingEntry
	status bbb.Status
}

// sendCreate forwards a create to b and returns its parsed answer. A
// network error, any HTTP status but 200, a body that is not a BBB answer
// and a checksumError (errBackendChecksum) are errors.
func (g *Gateway) sendCreate(ctx context.Context, x *exchange, q bbb.Query, b *fleet.Backend) (createAnswer, error) {
	query, err := g.rewriteCreate(ctx, x, q, b)
	if err != nil {
		return createAnswer{}, fmt.Errorf("rewrite create: %w", err)
	}
	method, contentType, body := http.MethodGet, "", []byte(nil)
	if len(x.req.Body) > 0 {
		method, contentType, body = http.MethodPost, x.req.ContentType, x.req.Body
	}
	a, err := g.send(ctx, b, method, bbb.CallCreate, query, contentType, body)
	if err != nil {
		return createAnswer{}, err
	}
	if a.status != http.StatusOK {
		return createAnswer{}, fmt.Errorf("create on %s: HTTP status %d", b.ID, a.status)
	}
	e, st, err := bbb.ParseMeetingInfo(a.body)
	if err != nil {
		return createAnswer{}, fmt.Errorf("create on %s: %w", b.ID, err)
	}
	if st.MessageKey == keyChecksumError {
		return createAnswer{}, fmt.Errorf("create on %s: %w", b.ID, errBackendChecksum)
	}
	return createAnswer{answer: a, entry: e, status: st}, nil
}

// finishCreate records what the server answered and relays it.
func (g *Gateway) finishCreate(ctx context.Context, x *exchange, m tinyscale.Meeting, claimed bool, b *fleet.Backend, a createAnswer) {
	g.clearNegative(m.ID)
	switch {
	case a.status.OK():
		g.recordCreated(ctx, m, b, a.entry)
	case claimed && a.status.MessageKey != "idNotUnique":
		// The server did not create the meeting (validation error and the
		// like): give the ID back so that the next create places it anew.
		g.release(ctx, m.ID, b.ID)
	}
	x.relay(a.answer)
}

// recordCreated stores the internalMeetingID a successful create answered.
// A new internal ID on the same server is a new incarnation of the
// meeting (re-created after it ended), which counts as young again.
func (g *Gateway) recordCreated(ctx context.Context, m tinyscale.Meeting, b *fleet.Backend, e bbb.MeetingEntry) {
	if e.InternalID == "" || (e.MeetingID != "" && e.MeetingID != m.ID) {
		return
	}
	// Concurrent creates of one meeting all get the same answer: write once.
	if cur, err := g.cfg.Store.Meeting(ctx, m.ID); err == nil && cur.ServerID == b.ID {
		if cur.InternalID == e.InternalID {
			return
		}
		m = cur
	}
	nm := m
	nm.ServerID, nm.InternalID = b.ID, e.InternalID
	if nm.CreatedAt.IsZero() || (m.InternalID != "" && m.InternalID != e.InternalID) {
		nm.CreatedAt = g.cfg.Now()
	}
	if err := g.cfg.Store.PutMeeting(ctx, nm); err != nil {
		g.log.Warn("record internal meeting ID failed", "meetingID", m.ID, "server", b.ID, "err", err)
	}
}

// join answers a join for a known meeting with a redirect to its server's
// join URL, re-signed for that server; it costs one store lookup and no
// call to the server. With redirect=false the call is made server-side and
// the server's XML and Set-Cookie are relayed. Errors follow joinError.
func (g *Gateway) join(ctx context.Context, x *exchange) error {
	id := x.req.Params.Get(bbb.ParamMeetingID)
	if e := bbb.ValidateMeetingID(id); e != nil {
		g.joinError(x, e)
		return nil
	}
	if strings.TrimSpace(x.req.Params.Get(bbb.ParamFullName)) == "" {
		g.joinError(x, errMissingFullName)
		return nil
	}
	if !wantsRedirect(x.req.Params) {
		b, err := g.meetingBackend(ctx, id)
		if errors.Is(err, errUnknownMeeting) {
			g.joinError(x, bbb.ErrMeetingNotFound)
			return nil
		}
		if err != nil {
			return err
		}
		x.server = b.ID
		return g.forward(ctx, x, b, nil, func() error { return bbb.ErrServerUnavailable })
	}
	// A browser join goes to the meeting's server even while the poller
	// reports it down: the meeting lives there and nowhere else until a
	// create moves it, and a server that is only briefly unreachable (a
	// restart, a network blip) serves the browser once it is back.
	m, err := g.locate(ctx, id)
	if errors.Is(err, tinyscale.ErrNotFound) {
		g.joinError(x, bbb.ErrMeetingNotFound)
		return nil
	}
	if err != nil {
		return err
	}
	b, ok := g.cfg.Fleet.Backend(m.ServerID)
	if !ok {
		g.joinError(x, bbb.ErrMeetingNotFound)
		return nil
	}
	x.server = b.ID
	x.redirect(b.Client.URL(bbb.CallJoin, x.req.ForwardQuery()))
	return nil
}

// joinError answers a failed join the way bbb-web 2.7+/3.0 does: FAILED
// XML with redirect=false; otherwise a 302 to the client's
// errorRedirectUrl (an absolute http or https URL) with
// errors=[{"key":…,"message":…}] added to its query. Without a usable
// errorRedirectUrl, where a BBB server redirects to its own default logout
// page, tinyscale answers FAILED XML: it has no page of its own to show,
// and the XML (what BBB before 2.7 and Scalelite answer) tells the user
// and the admin what went wrong.
func (g *Gateway) joinError(x *exchange, e *bbb.Error) {
	var p bbb.Query
	if x.req != nil {
		p = x.req.Params
	}
	if !wantsRedirect(p) {
		x.fail(e)
		return
	}
	target := p.Get(bbb.ParamErrorRedirectURL)
	if !redirectableURL(target) {
		x.fail(e)
		return
	}
	x.redirect(withErrors(target, e))
	x.result = "redirect " + e.Key
}

// wantsRedirect reports whether a join asks to be redirected: redirect
// absent or empty means yes; otherwise only "true" (any case) does, as
// with Java's Boolean.parseBoolean in bbb-web.
func wantsRedirect(p bbb.Query) bool {
	v, ok := p.Lookup(bbb.ParamRedirect)
	if !ok || v == "" {
		return true
	}
	return strings.EqualFold(v, "true")
}

// redirectableURL reports whether s is an absolute http(s) URL fit for a
// Location header.
func redirectableURL(s string) bool {
	if s == "" || len(s) > 8192 {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// withErrors appends errors=<JSON> to target's query (before any
// fragment), escaped like bbb-web does: brackets, colons and commas stay,
// everything else that is not unreserved is percent-encoded.
func withErrors(target string, e *bbb.Error) string {
	frag := ""
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target, frag = target[:i], target[i:]
	}
	js, _ := json.Marshal([]struct {
		Key     string `json:"key"`
		Message string `json:"message"`
	}{{e.Key, e.Message}})
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
		if strings.HasSuffix(target, "?") || strings.HasSuffix(target, "&") {
			sep = ""
		}
	}
	return target + sep + "errors=" + escapeErrors(js) + frag
}

func escapeErrors(b []byte) string {
	const hexd = "0123456789ABCDEF"
	var s strings.Builder
	s.Grow(len(b) * 2)
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '[', c == ']', c == ':', c == ',':
			s.WriteByte(c)
		default:
			s.WriteByte('%')
			s.WriteByte(hexd[c>>4])
			s.WriteByte(hexd[c&15])
		}
	}
	return s.String()
}

// end forwards an end to the meeting's server. tinyscale keeps the
// meeting in its map afterwards: BBB ends a meeting asynchronously and
// keeps it as "forcibly ended" for a while, so a create right after an end
// must reach the same server (which applies its own re-create rules)
// rather than be placed on another one while the old one still ends. The
// map entry is dropped when the server reports the meeting ended (the
// meetingEndedURL relay) or no longer has it; should that report arrive
// after a re-create, the next call finds the meeting again by lookup.
func (g *Gateway) end(ctx context.Context, x *exchange) error {
	return g.byMeeting(ctx, x)
}

// isMeetingRunning forwards to the meeting's server. A meeting unknown
// everywhere, or held by a server that cannot be reached, is not running.
func (g *Gateway) isMeetingRunning(ctx context.Context, x *exchange) error {
	notRunning := func() error {
		x.xml([]byte(notRunningXML), "SUCCESS")
		return nil
	}
	id := x.req.Params.Get(bbb.ParamMeetingID)
	if e := bbb.ValidateMeetingID(id); e != nil {
		return e
	}
	b, err := g.meetingBackend(ctx, id)
	if errors.Is(err, errUnknownMeeting) {
		return notRunning()
	}
	if err != nil {
		return err
	}
	return g.forward(ctx, x, b, nil, notRunning)
}

// getMeetingInfo forwards to the meeting's server, restoring the client's
// callback URLs in the metadata. A meeting unknown everywhere, or held by
// a server that cannot be reached, is notFound.
func (g *Gateway) getMeetingInfo(ctx context.Context, x *exchange) error {
	id := x.req.Params.Get(bbb.ParamMeetingID)
	if e := bbb.ValidateMeetingID(id); e != nil {
		return e
	}
	b, err := g.meetingBackend(ctx, id)
	if errors.Is(err, errUnknownMeeting) {
		return bbb.ErrMeetingNotFound
	}
	if err != nil {
		return err
	}
	return g.forward(ctx, x, b, g.restoreMetadata, func() error { return bbb.ErrMeetingNotFound })
}

// byMeeting forwards end, insertDocument and sendChatMessage to the
// meeting's server: notFound if the meeting runs on no reachable server,
// serverUnavailable if the server fails to answer.
func (g *Gateway) byMeeting(ctx context.Context, x *exchange) error {
	id := x.req.Params.Get(bbb.ParamMeetingID)
	if e := bbb.ValidateMeetingID(id); e != nil {
		return e
	}
	if x.call == bbb.CallInsertDocument && len(x.req.Body) == 0 {
		return errNoDocument
	}
	b, err := g.meetingBackend(ctx, id)
	if errors.Is(err, errUnknownMeeting) {
		if x.call == bbb.CallSendChatMessage {
			return errChatMeetingNotFound
		}
		return bbb.ErrMeetingNotFound
	}
	if err != nil {
		return err
	}
	return g.forward(ctx, x, b, nil, func() error { return bbb.ErrServerUnavailable })
}

// meetingBackend returns the routable server holding the meeting with id.
// The error wraps errUnknownMeeting if no server holds it or its server is
// down, disabled or no longer configured.
func (g *Gateway) meetingBackend(ctx context.Context, id string) (*fleet.Backend, error) {
	m, err := g.locate(ctx, id)
	if errors.Is(err, tinyscale.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", errUnknownMeeting, err)
	}
	if err != nil {
		return nil, err
	}
	b, ok := g.routable(m)
	if !ok {
		return nil, fmt.Errorf("meeting %q on server %s: %w", id, m.ServerID, errUnknownMeeting)
	}
	return b, nil
}

// answer is a server's answer to a forwarded call.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send makes one call to b (query without checksum; b's client signs it),
// bounded by Config.BackendTimeout, and reads the whole answer.
func (g *Gateway) send(ctx context.Context, b *fleet.Backend, method, call, query, contentType string, body []byte) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.BackendTimeout)
	defer cancel()
	resp, err := g.do(ctx, b, method, call, query, contentType, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, bbb.MaxResponse))
	if err != nil {
		return nil, fmt.Errorf("read %s answer from %s: %w", call, b.ID, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// forward sends x's call (its query without checksum, form parameters
// moved into the query, a body as a POST with its Content-Type; a POST
// for the POST-only calls) to b and relays the answer, passed through
// transform if that is non-nil. If
// b cannot be reached, or answers anything but a BBB answer (a status
// other than 200, or a body that is not a BBB answer, such as an error
// page of a proxy in front of the server), unreachable answers instead:
// clients get BBB's shapes only, never another server's redirect or page.
func (g *Gateway) forward(ctx context.Context, x *exchange, b *fleet.Backend, transform func([]byte) []byte, unreachable func() error) error {
	x.server = b.ID
	method, contentType, body := http.MethodGet, "", []byte(nil)
	if len(x.req.Body) > 0 || !g.routes[x.call].get {
		method, contentType, body = http.MethodPost, x.req.ContentType, x.req.Body
	}
	a, err := g.send(ctx, b, method, x.call, x.req.ForwardQuery(), contentType, body)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		g.log.Warn("server unreachable", "call", x.call, "meetingID", x.meetingID, "server", b.ID, "err", err)
		return unreachable()
	}
	if a.status != http.StatusOK || !bbbAnswer(x.call, a.body) {
		g.log.Warn("server failed", "call", x.call, "meetingID", x.meetingID, "server", b.ID, "status", a.status)
		return unreachable()
	}
	if backendChecksumError(a) {
		g.log.Error("server rejected request", "call", x.call, "server", b.ID, "err", errBackendChecksum)
		return bbb.ErrServerUnavailable
	}
	if transform != nil && a.status == http.StatusOK {
		a.body = transform(a.body)
	}
	x.relay(a)
	return nil
}

// bbbAnswer reports whether body looks like a complete BBB answer to
// call: an XML <response> with a <returncode> that ends with
// </response> (every call, including the errors of the JSON calls), or
// for getRecordingTextTracks and putRecordingTextTrack a JSON object
// starting with "response" and ending with '}'. It does not parse the
// body, so it is cheap on the polled calls, and it catches what a broken
// server or proxy sends: error pages, empty or truncated bodies.
func bbbAnswer(call string, body []byte) bool {
	const space = " \t\r\n"
	b := bytes.Trim(bytes.TrimPrefix(body, utf8BOM), space)
	if call == bbb.CallGetRecordingTextTracks || call == bbb.CallPutRecordingTextTrack {
		if j, ok := bytes.CutPrefix(b, []byte("{")); ok {
			return bytes.HasPrefix(bytes.TrimLeft(j, space), []byte(`"response"`)) && bytes.HasSuffix(j, []byte("}"))
		}
	}
	if rest, ok := bytes.CutPrefix(b, []byte("<?xml")); ok {
		i := bytes.Index(rest, []byte("?>"))
		if i < 0 {
			return false
		}
		b = bytes.TrimLeft(rest[i+2:], space)
	}
	rest, ok := bytes.CutPrefix(b, []byte("<response"))
	return ok && len(rest) > 0 && strings.IndexByte(">"+space, rest[0]) >= 0 &&
		bytes.HasSuffix(rest, []byte("</response>")) && bytes.Contains(rest, []byte("<returncode>"))
}

var utf8BOM = []byte("\xef\xbb\xbf")

// backendChecksumError reports whether a is a checksumError answer.
func backendChecksumError(a *answer) bool {
	if !bytes.Contains(a.body, []byte(keyChecksumError)) {
		return false
	}
	st, err := bbb.ParseStatus(a.body)
	return err == nil && st.MessageKey == keyChecksumError
}

// relay writes a server's answer to the client: its status, body and the
// headers a client may need (Content-Type, Set-Cookie, Cache-Control).
func (x *exchange) relay(a *answer) {
	h := x.w.Header()
	for _, k := range []string{"Content-Type", "Set-Cookie", "Cache-Control"} {
		if v := a.header.Values(k); len(v) > 0 {
			h[k] = v
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	x.written = true
	x.result = "proxied " + strconv.Itoa(a.status)
	x.w.WriteHeader(a.status)
	_, _ = x.w.Write(a.body)
}
