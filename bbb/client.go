package bbb

import (
	"context"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxResponse is the largest backend response body a Client reads.
const MaxResponse = 64 << 20

// Client calls the API of one BBB server. It is safe for concurrent use.
type Client struct {
	// BaseURL is the server's API base, ending in "/bigbluebutton/api/".
	BaseURL string
	// Secret is the server's shared secret.
	Secret string
	// Algorithm signs outgoing calls; sha256 if empty.
	Algorithm string
	// HTTP is the client used; http.DefaultClient if nil. It should not follow
	// redirects (join answers 302).
	HTTP *http.Client
}

// URL returns the signed URL of call with the raw query (which must not
// carry a checksum).
func (c *Client) URL(call, query string) string {
	alg := c.Algorithm
	if alg == "" {
		alg = SHA256
	}
	var b strings.Builder
	b.Grow(len(c.BaseURL) + len(call) + 1 + len(query) + len("&checksum=") + 2*sha512.Size)
	b.WriteString(c.BaseURL)
	b.WriteString(call)
	b.WriteByte('?')
	writeSigned(&b, alg, call, query, c.Secret)
	return b.String()
}

// Do sends call with query (no checksum) and an optional body. The caller
// closes the response body.
func (c *Client) Do(ctx context.Context, method, call, query, contentType string, body io.Reader) (*http.Response, error) {
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL(call, query), body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", call, redact(err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", call, redact(err))
	}
	return resp, nil
}

// Get sends a GET for call and returns the body of a 200 answer.
func (c *Client) Get(ctx context.Context, call, query string) ([]byte, error) {
	resp, err := c.Do(ctx, http.MethodGet, call, query, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if err != nil {
		return nil, fmt.Errorf("%s: read response: %w", call, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("%s: HTTP status %d", call, resp.StatusCode)
	}
	return body, nil
}

// redact strips the query string (which carries a checksum) from the URL
// in a *url.Error, keeping the error chain intact.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		c := *ue
		if i := strings.IndexByte(c.URL, '?'); i >= 0 {
			c.URL = c.URL[:i]
		}
		return &c
	}
	return err
}
