package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tinyscale/tinyscale"
)

// Client calls the admin API of a running tinyscale. It is safe for
// concurrent use. Every method returns an *Error carrying the server's
// status, code and message when the API answers with an error.
type Client struct {
	// BaseURL is tinyscale's base URL, e.g. http://127.0.0.1:3005. A
	// trailing slash or a trailing /admin/api/v1 is accepted.
	BaseURL string
	// Token is the admin token; empty sends no Authorization header
	// (enough for a local tinyscale in loopback mode).
	Token string
	// HTTP is the client used; http.DefaultClient if nil.
	HTTP *http.Client
}

// endpoint returns the absolute URL of an API path (relative to
// PathPrefix) with query.
func (c *Client) endpoint(path string, query url.Values) string {
	base := strings.TrimRight(c.BaseURL, "/")
	base = strings.TrimSuffix(base, strings.TrimRight(PathPrefix, "/"))
	u := base + PathPrefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

// do sends one request and decodes a 2xx JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin %s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path, query), body)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(CSRFHeader, "1")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb errorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != nil && eb.Error.Message != "" {
			eb.Error.Status = resp.StatusCode
			return eb.Error
		}
		return &Error{Status: resp.StatusCode, Code: codeForStatus(resp.StatusCode),
			Message: fmt.Sprintf("unexpected answer from %s (is this tinyscale?)", c.BaseURL)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusServiceUnavailable:
		return CodeStoreUnavailable
	}
	return CodeInternal
}

// Servers lists the servers, ordered by ID.
func (c *Client) Servers(ctx context.Context) ([]Server, error) {
	var out []Server
	err := c.do(ctx, http.MethodGet, "servers", nil, nil, &out)
	return out, err
}

// Server returns one server.
func (c *Client) Server(ctx context.Context, id string) (Server, error) {
	var out Server
	err := c.do(ctx, http.MethodGet, "servers/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// AddServer adds a server. The server probes it first: a wrong secret or a
// URL that is not a BBB API is refused (422); an unreachable server is
// added as down, with a warning in the result.
func (c *Client) AddServer(ctx context.Context, req AddServerRequest) (AddServerResult, error) {
	var out AddServerResult
	err := c.do(ctx, http.MethodPost, "servers", nil, req, &out)
	return out, err
}

// RemoveServer removes a server. Without force, a server that still has
// meetings is refused (409).
func (c *Client) RemoveServer(ctx context.Context, id string, force bool) (RemoveResult, error) {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var out RemoveResult
	err := c.do(ctx, http.MethodDelete, "servers/"+url.PathEscape(id), q, nil, &out)
	return out, err
}

// SetState sets a server's admin state (enabled, cordoned or disabled) and
// returns the server after the change.
func (c *Client) SetState(ctx context.Context, id string, state tinyscale.ServerState) (Server, error) {
	var action string
	switch state {
	case tinyscale.StateEnabled:
		action = "enable"
	case tinyscale.StateCordoned:
		action = "cordon"
	case tinyscale.StateDisabled:
		action = "disable"
	default:
		return Server{}, fmt.Errorf("admin set state: %q is not enabled, cordoned or disabled", state)
	}
	var out Server
	err := c.do(ctx, http.MethodPost, "servers/"+url.PathEscape(id)+"/"+action, nil, nil, &out)
	return out, err
}

// Enable lets a server take new meetings.
func (c *Client) Enable(ctx context.Context, id string) (Server, error) {
	return c.SetState(ctx, id, tinyscale.StateEnabled)
}

// Cordon stops new meetings on a server; running ones go on.
func (c *Client) Cordon(ctx context.Context, id string) (Server, error) {
	return c.SetState(ctx, id, tinyscale.StateCordoned)
}

// Disable is Cordon, and the server takes no traffic once its meetings
// have ended.
func (c *Client) Disable(ctx context.Context, id string) (Server, error) {
	return c.SetState(ctx, id, tinyscale.StateDisabled)
}

// Panic ends every meeting on a server and forgets them, so that their
// next create places them elsewhere. An enabled server is cordoned first
// unless keepState is true.
func (c *Client) Panic(ctx context.Context, id string, keepState bool) (PanicResult, error) {
	var q url.Values
	if keepState {
		q = url.Values{"keep_state": {"true"}}
	}
	var out PanicResult
	err := c.do(ctx, http.MethodPost, "servers/"+url.PathEscape(id)+"/panic", q, nil, &out)
	return out, err
}

// ServerMeetings lists the meetings on one server.
func (c *Client) ServerMeetings(ctx context.Context, id string) (MeetingList, error) {
	var out MeetingList
	err := c.do(ctx, http.MethodGet, "servers/"+url.PathEscape(id)+"/meetings", nil, nil, &out)
	return out, err
}

// Meetings lists the meetings on every server.
func (c *Client) Meetings(ctx context.Context) (MeetingList, error) {
	var out MeetingList
	err := c.do(ctx, http.MethodGet, "meetings", nil, nil, &out)
	return out, err
}

// Status returns the fleet's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.do(ctx, http.MethodGet, "status", nil, nil, &out)
	return out, err
}

// History returns the load samples taken after since (all for the zero
// time).
func (c *Client) History(ctx context.Context, since time.Time) (HistoryData, error) {
	var q url.Values
	if !since.IsZero() {
		q = url.Values{"since": {strconv.FormatInt(since.Unix(), 10)}}
	}
	var out HistoryData
	err := c.do(ctx, http.MethodGet, "history", q, nil, &out)
	return out, err
}
