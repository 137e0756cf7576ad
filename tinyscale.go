// Package tinyscale holds the domain types of the tinyscale BigBlueButton
// load balancer: servers, their admin state and health, meetings, hooks, and
// the Store interface that the embedded (bolt) and shared (redis) stores
// implement. It does no I/O.
package tinyscale

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors shared by every package.
var (
	// ErrNotFound is returned when a record (server, meeting, hook,
	// recording) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrNoServer is returned when no server can take a new meeting.
	ErrNoServer = errors.New("no server available")
	// ErrTagUnavailable is returned when a required server tag (meta_server-tag=x!)
	// matches no usable server.
	ErrTagUnavailable = errors.New("no server with the required tag available")
	// ErrStoreUnavailable wraps store failures that callers should report as a
	// temporary outage.
	ErrStoreUnavailable = errors.New("store unavailable")
)

// ServerState is the admin state of a server, set by an operator. It is
// independent of health, which the poller measures.
type ServerState string

// Admin states.
const (
	// StateEnabled servers take new meetings.
	StateEnabled ServerState = "enabled"
	// StateCordoned servers take no new meetings; running meetings go on and
	// can be joined.
	StateCordoned ServerState = "cordoned"
	// StateDisabled servers are like cordoned ones; once their meetings have
	// ended they take no traffic at all.
	StateDisabled ServerState = "disabled"
)

// Valid reports whether s is one of the known states.
func (s ServerState) Valid() bool {
	switch s {
	case StateEnabled, StateCordoned, StateDisabled:
		return true
	}
	return false
}

// Server is one BigBlueButton server behind tinyscale.
type Server struct {
	// ID is a stable, unique, URL-safe identifier (default: derived from the host).
	ID string `json:"id"`
	// URL is the server's API base URL, normalised to end in "/bigbluebutton/api/".
	URL string `json:"url"`
	// Secret is the server's shared secret (securitySalt). Never log it.
	Secret string `json:"secret"`
	// Weight scales the server's capacity for load-aware placement; default 1.
	Weight float64 `json:"weight"`
	// Tags are free-form labels matched by meta_server-tag.
	Tags []string `json:"tags,omitempty"`
	// State is the admin state; default StateEnabled.
	State ServerState `json:"state"`
	// Algorithm is the checksum algorithm used when signing requests toward
	// this server: sha1, sha256 (default), sha384 or sha512.
	Algorithm string `json:"algorithm"`
	// Source tells where the server was declared: SourceFile (servers.json)
	// or SourceAPI (the admin API). A servers.json reload removes servers of
	// SourceFile that the file no longer lists and leaves SourceAPI ones.
	Source string `json:"source,omitempty"`
}

// Server sources.
const (
	SourceFile = "file"
	SourceAPI  = "api"
)

// HasTag reports whether the server carries tag.
func (s Server) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Health is what the poller last learned about a server.
type Health struct {
	// ServerID names the server.
	ServerID string `json:"serverID"`
	// Up is the server's health after hysteresis.
	Up bool `json:"up"`
	// Meetings and Participants are the counts from the last good poll.
	Meetings     int `json:"meetings"`
	Participants int `json:"participants"`
	// LastError is the error of the last failed poll, empty after a good one.
	// It never contains a secret or checksum.
	LastError string `json:"lastError,omitempty"`
	// CheckedAt is the time of the last poll, good or bad.
	CheckedAt time.Time `json:"checkedAt"`
	// Fails and Successes count consecutive failed and good polls.
	Fails     int `json:"fails"`
	Successes int `json:"successes"`
}

// Meeting maps an external meetingID to the server it runs on.
type Meeting struct {
	// ID is the external meetingID as clients send it.
	ID string `json:"id"`
	// ServerID names the server that holds the meeting.
	ServerID string `json:"serverID"`
	// InternalID is BBB's internalMeetingID once known (sha1(ID)-createTime).
	InternalID string `json:"internalID,omitempty"`
	// CreatedAt is when tinyscale placed the meeting, or, for a meeting
	// learned from a server, the server's createTime (capped at the time it
	// was learned), so that learned meetings do not count as new placements.
	CreatedAt time.Time `json:"createdAt"`
}

// Hook is a webhook registered through tinyscale (bbb-webhooks hooks/create),
// fanned out to every server.
type Hook struct {
	// ID is tinyscale's stable hook ID, returned to the client as hookID.
	ID string `json:"id"`
	// CallbackURL is the client's callback URL, as registered.
	CallbackURL string `json:"callbackURL"`
	// MeetingID limits the hook to one meeting; empty for a global hook.
	MeetingID string `json:"meetingID,omitempty"`
	// EventID is the client's comma list of event ids, possibly empty.
	EventID string `json:"eventID,omitempty"`
	// Raw asks for raw events (getRaw=true).
	Raw bool `json:"raw,omitempty"`
	// Backends maps a server ID to the hook ID that server returned.
	Backends map[string]string `json:"backends,omitempty"`
	// CreatedAt is the registration time.
	CreatedAt time.Time `json:"createdAt"`
}

// Store keeps everything that must survive a restart and that several
// tinyscale instances share. Implementations are safe for concurrent use.
// Every method returns an error wrapping ErrStoreUnavailable when the backing
// service cannot be reached.
type Store interface {
	// Servers returns all servers, ordered by ID.
	Servers(ctx context.Context) ([]Server, error)
	// PutServer creates or replaces the server with s.ID.
	PutServer(ctx context.Context, s Server) error
	// DeleteServer removes a server; it returns ErrNotFound if there is none.
	DeleteServer(ctx context.Context, id string) error

	// Meeting returns the meeting with the external id; ErrNotFound if unknown.
	Meeting(ctx context.Context, id string) (Meeting, error)
	// ClaimMeeting atomically stores m unless a meeting with m.ID is already
	// stored. If one is stored and replaceServerID is non-empty and equal to
	// the stored meeting's ServerID, m replaces it (failover). It returns the
	// meeting stored after the call and whether m was stored. Any number of
	// concurrent claims for one ID, from any number of instances, leave
	// exactly one winner.
	ClaimMeeting(ctx context.Context, m Meeting, replaceServerID string) (Meeting, bool, error)
	// PutMeeting stores m unconditionally (used to record InternalID and to
	// learn meetings found on a server).
	PutMeeting(ctx context.Context, m Meeting) error
	// DeleteMeeting removes the meeting with the id if it is stored on
	// serverID (any server when serverID is empty). It returns ErrNotFound
	// if no such meeting is stored.
	DeleteMeeting(ctx context.Context, id, serverID string) error
	// Meetings returns all stored meetings, in no particular order.
	Meetings(ctx context.Context) ([]Meeting, error)
	// MeetingsSince returns the meetings with CreatedAt at or after t.
	MeetingsSince(ctx context.Context, t time.Time) ([]Meeting, error)

	// PutHealth stores health records, replacing those with the same ServerID.
	PutHealth(ctx context.Context, hs ...Health) error
	// Health returns all stored health records.
	Health(ctx context.Context) ([]Health, error)

	// PutHook creates or replaces a hook.
	PutHook(ctx context.Context, h Hook) error
	// Hook returns a hook by ID; ErrNotFound if unknown.
	Hook(ctx context.Context, id string) (Hook, error)
	// Hooks returns all hooks ordered by ID.
	Hooks(ctx context.Context) ([]Hook, error)
	// DeleteHook removes a hook; ErrNotFound if unknown.
	DeleteHook(ctx context.Context, id string) error
	// NextHookID returns a new, never reused, positive hook number.
	NextHookID(ctx context.Context) (int64, error)

	// PutRecordings remembers which server holds each recordID (recordID → serverID).
	PutRecordings(ctx context.Context, recs map[string]string) error
	// RecordingServer returns the server ID holding recordID; ErrNotFound if unknown.
	RecordingServer(ctx context.Context, recordID string) (string, error)

	// Once reports true the first time it is called with key (within ttl) and
	// false afterwards; used to deliver each callback once.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// AcquireLease takes or renews the named lease for holder for ttl. It
	// returns true if holder holds the lease after the call.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close flushes and releases the store.
	Close() error
}
