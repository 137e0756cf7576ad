// Package fakebbb is an in-memory BigBlueButton server for tests, demos and
// benchmarks. It answers the BBB API of bbb-web 2.6–3.0 and the bbb-webhooks
// API with the same XML and JSON shapes, messageKeys, HTTP statuses,
// checksum rules and callbacks as a real server, so that anything that talks
// to BBB can be tested without one.
//
// # Independence
//
// Checksums are verified here from the BBB rules themselves (raw query
// string, bbb-web's three literal replacements to remove the checksum,
// algorithm chosen by length, case-insensitive compare; case-sensitive for
// hooks/*), without sharing code with the rest of tinyscale, so that a
// client under test and this server never agree merely by construction.
//
// # Use
//
// A zero Server is a ready http.Handler (no secret: verification off).
// NewTestServer runs one on an httptest.Server for a test. Go methods
// (AddParticipants, EndMeeting, CreateBreakouts, AddRecording, SetFault, …)
// drive it and snapshots (Meetings, Recordings, Hooks, CreateBodies, Calls)
// inspect it. The same knobs are JSON endpoints under /fakebbb/ (a path
// real BBB does not have; no checksum) for servers in another process:
//
//	GET  /fakebbb/state
//	POST /fakebbb/meetings/{id}/participants?n=3   (negative n removes)
//	POST /fakebbb/meetings/{id}/end
//	POST /fakebbb/meetings/{id}/breakouts?n=2
//	POST /fakebbb/recordings?meetingID=m&n=2&meta_bbb-origin=x
//	POST /fakebbb/fault?mode=error500[&call=getMeetings]
//	POST /fakebbb/latency?d=50ms
//	POST /fakebbb/reset
//
// # Meetings
//
// A join answers 302 to <URL>/html5client/join?sessionToken=…; the user
// counts as a participant once that page is fetched (or AddParticipants is
// called). A meeting runs while it has participants. An end call ends the
// meeting before it answers (or after EndDelay); ended meetings are
// forgotten, except that joins answer meetingForciblyEnded for a minute.
// Meetings never expire on their own.
//
// # Callbacks
//
// Callbacks run on a few goroutines owned by the Server (Close stops them;
// WaitIdle waits for them), in order per webhook and per URL:
//
//   - meeting ended: GET meta_endCallbackUrl with recordingmarks and
//     meetingID added, and GET meetingEndedURL as given (not for breakout
//     rooms); up to three tries.
//   - recorded meetings: on end a "processing" recording appears; after
//     RecordingDelay it is published and a recording-ready callback (POST
//     signed_parameters=<HS256 JWT {meeting_id, record_id}>) goes to
//     meta_bbb-recording-ready-url (or bn-/canvas-recording-ready-url),
//     tried once as BBB's post-publish script does.
//   - analytics: after RecordingDelay, if meta_analytics-callback-url is set
//     and the meeting was recorded or kept events, POST JSON with a Bearer
//     HS512 JWT (exp now+24h); tried once.
//   - webhooks: meeting-created, user-joined, user-left, meeting-ended,
//     rap-publish-ended, rap-published, rap-unpublished and rap-deleted are
//     POSTed to matching hooks as bbb-webhooks does (checksum
//     HASH(callbackURL+body+secret) in the URL, form body
//     domain=…&event=[…]&timestamp=…); up to three tries, 401 counts as
//     delivered. Hooks created with getRaw=true get the same processed form.
package fakebbb
