package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tinyscale/tinyscale"
)

// Error codes carried in JSON error bodies. Clients may branch on them;
// the message is for humans.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeBadSecret        = "bad_secret"
	CodeNotBBB           = "not_bbb"
	CodeStoreUnavailable = "store_unavailable"
	CodeInternal         = "internal"
)

// Error is an admin API error: an HTTP status, a stable code and a message
// safe to show to the client. Err, if set, is the cause; it is logged by
// the handler and never sent to the client. The Client returns an *Error
// (with Err nil) for every non-2xx answer.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message is a human-readable explanation; never contains a secret.
	Message string `json:"message"`
	// Err is the internal cause (server side only).
	Err error `json:"-"`
}

// Error returns the message, prefixed with the HTTP status.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with a formatted message.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error *Error `json:"error"`
}

// toAPIError turns any handler error into the *Error sent to the client.
// Store outages become 503; anything unknown becomes a generic 500 whose
// cause is only logged.
func toAPIError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, tinyscale.ErrStoreUnavailable) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeStoreUnavailable,
			Message: "the store is unavailable; try again later", Err: err}
	}
	if errors.Is(err, tinyscale.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "not found", Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "internal error", Err: err}
}

// writeError renders err as JSON. It is the only error renderer of the
// admin API.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ae := toAPIError(err)
	if ae.Err != nil || ae.Status >= 500 {
		log.LogAttrs(r.Context(), levelFor(ae.Status), "admin api error",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", ae.Status), slog.Any("err", ae.Err))
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tinyscale admin"`)
	}
	writeJSON(w, ae.Status, errorBody{Error: &Error{Status: ae.Status, Code: ae.Code, Message: ae.Message}})
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelWarn
}

// writeJSON writes v as indented JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"status":500,"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
