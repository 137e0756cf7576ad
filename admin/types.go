package admin

import (
	"fmt"
	"time"

	"github.com/tinyscale/tinyscale"
)

// Health words reported for a server.
const (
	// HealthUp: the poller considers the server healthy (or has not
	// polled it yet, which the balancer also treats as up).
	HealthUp = "up"
	// HealthDown: the server failed its recent polls.
	HealthDown = "down"
)

// Server is one server as the admin API reports it. It never carries the
// server's secret.
type Server struct {
	// ID is the server's stable identifier.
	ID string `json:"id"`
	// Host is the server's API base URL, ending in "/bigbluebutton/api/".
	Host string `json:"host"`
	// State is the admin state: enabled, cordoned or disabled.
	State tinyscale.ServerState `json:"state"`
	// Health is HealthUp or HealthDown.
	Health string `json:"health"`
	// Weight scales the server's capacity (1 is the default).
	Weight float64 `json:"weight"`
	// Tags are the server's tags; never nil in answers.
	Tags []string `json:"tags"`
	// Algorithm is the checksum algorithm used toward the server.
	Algorithm string `json:"algorithm"`
	// Source is "file" (servers.json) or "api" (added through this API).
	Source string `json:"source,omitempty"`
	// Meetings and Participants are the counts from the last good poll.
	Meetings     int `json:"meetings"`
	Participants int `json:"participants"`
	// Load is the load figure placement uses (higher is busier).
	Load float64 `json:"load"`
	// LastError is the error of the last failed poll; empty after a good one.
	LastError string `json:"lastError,omitempty"`
	// CheckedAt is the time of the last poll; nil if never polled.
	CheckedAt *time.Time `json:"checkedAt,omitempty"`
}

// Totals sums the fleet.
type Totals struct {
	Servers      int `json:"servers"`
	Up           int `json:"up"`
	Down         int `json:"down"`
	Enabled      int `json:"enabled"`
	Cordoned     int `json:"cordoned"`
	Disabled     int `json:"disabled"`
	Meetings     int `json:"meetings"`
	Participants int `json:"participants"`
}

// StoreStatus reports whether the store answered a ping.
type StoreStatus struct {
	// OK is true when the store answered.
	OK bool `json:"ok"`
	// Error is the ping error when OK is false.
	Error string `json:"error,omitempty"`
}

// Status is the answer of GET status: every server, totals, and the
// store's reachability.
type Status struct {
	// Servers are ordered by ID.
	Servers []Server    `json:"servers"`
	Totals  Totals      `json:"totals"`
	Store   StoreStatus `json:"store"`
	// Time is when the status was taken.
	Time time.Time `json:"time"`
}

// AddServerRequest is the body of POST servers. Host and Secret are
// required; the other fields take the servers.json defaults (ID derived
// from the host, weight 1, state enabled, algorithm sha256).
type AddServerRequest struct {
	Host      string                `json:"host"`
	Secret    string                `json:"secret"`
	ID        string                `json:"id,omitempty"`
	Weight    float64               `json:"weight,omitempty"`
	Tags      []string              `json:"tags,omitempty"`
	State     tinyscale.ServerState `json:"state,omitempty"`
	Algorithm string                `json:"algorithm,omitempty"`
}

// String describes the request without its secret, so that printing it
// by mistake does not leak the secret.
func (r AddServerRequest) String() string {
	return fmt.Sprintf("AddServerRequest{Host:%q ID:%q Weight:%v Tags:%q State:%q Algorithm:%q Secret:<redacted>}",
		r.Host, r.ID, r.Weight, r.Tags, r.State, r.Algorithm)
}

// GoString is String, so that %#v does not print the secret either.
func (r AddServerRequest) GoString() string { return r.String() }

// AddServerResult is the answer of POST servers.
type AddServerResult struct {
	// Server is the server as added.
	Server Server `json:"server"`
	// Warnings explain anything the operator should look at, such as a
	// server that could not be reached and was added as down.
	Warnings []string `json:"warnings,omitempty"`
}

// RemoveResult is the answer of DELETE servers/{id}.
type RemoveResult struct {
	// ID is the removed server's ID.
	ID string `json:"id"`
	// Forgotten is how many meeting mappings to the server were dropped.
	Forgotten int `json:"forgotten"`
	// Warnings explain anything the operator should look at.
	Warnings []string `json:"warnings,omitempty"`
}

// Meeting is one meeting as the admin API reports it.
type Meeting struct {
	// ID is the external meetingID.
	ID string `json:"id"`
	// Name is the meeting's name, if the server reported it.
	Name string `json:"name,omitempty"`
	// Server is the ID of the server holding the meeting.
	Server string `json:"server"`
	// InternalID is BBB's internalMeetingID, if known.
	InternalID string `json:"internalID,omitempty"`
	// Participants and Moderators are the server's counts.
	Participants int `json:"participants"`
	Moderators   int `json:"moderators"`
	// Running is true while at least one user is in the meeting.
	Running bool `json:"running"`
	// Breakout is true for breakout rooms.
	Breakout bool `json:"breakout,omitempty"`
	// CreatedAt is the meeting's creation time, if known.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// Stale is true when the server did not answer and the entry comes
	// from tinyscale's meeting map: the counts are then unknown (zero).
	Stale bool `json:"stale,omitempty"`
}

// ServerError names a server that could not be asked and why.
type ServerError struct {
	Server string `json:"server"`
	Error  string `json:"error"`
}

// MeetingList is the answer of GET meetings and GET servers/{id}/meetings.
type MeetingList struct {
	// Meetings are ordered by server, then creation time, then ID.
	Meetings []Meeting `json:"meetings"`
	// Errors lists the servers that did not answer.
	Errors []ServerError `json:"errors,omitempty"`
}

// MeetingError names a meeting that could not be ended and why.
type MeetingError struct {
	MeetingID string `json:"meetingID"`
	Error     string `json:"error"`
}

// PanicResult is the answer of POST servers/{id}/panic.
type PanicResult struct {
	// Server is the server after the panic (cordoned unless the state was
	// kept or it was disabled).
	Server Server `json:"server"`
	// Ended is how many meetings the server accepted an end for.
	Ended int `json:"ended"`
	// Forgotten is how many meeting mappings to the server were dropped,
	// so that their next create places them on another server.
	Forgotten int `json:"forgotten"`
	// Failed lists the meetings whose end failed.
	Failed []MeetingError `json:"failed,omitempty"`
	// Warnings explain anything the operator should look at.
	Warnings []string `json:"warnings,omitempty"`
}

// HistoryPoint is one load sample.
type HistoryPoint struct {
	// T is the sample time in Unix seconds.
	T int64 `json:"t"`
	// Load is the server's load figure at T.
	Load float64 `json:"load"`
	// Up is the server's health at T.
	Up bool `json:"up"`
}

// HistorySeries is one server's samples, oldest first.
type HistorySeries struct {
	ID     string         `json:"id"`
	Points []HistoryPoint `json:"points"`
}

// HistoryData is the answer of GET history.
type HistoryData struct {
	// Interval is the sampling interval in seconds.
	Interval float64 `json:"interval"`
	// Window is how far back samples are kept, in seconds.
	Window float64 `json:"window"`
	// Latest is the time of the newest sample (Unix seconds), 0 if none.
	Latest int64 `json:"latest"`
	// Servers are ordered by ID.
	Servers []HistorySeries `json:"servers"`
}
