package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Delivery errors.
var (
	// ErrRefused is returned when the target answered 404 or 410: final,
	// never retried (BBB's recording-ready script treats them the same way).
	ErrRefused = errors.New("callback target refused the delivery")
	// ErrGaveUp is returned when every attempt failed.
	ErrGaveUp = errors.New("callback delivery failed after all attempts")
)

// Request is one delivery: an HTTP request made until it succeeds.
type Request struct {
	// Method is the HTTP method; GET if empty.
	Method string
	// URL is the target.
	URL string
	// Header is sent with every attempt; may be nil.
	Header http.Header
	// Body is sent with every attempt; nil sends none.
	Body []byte
}

// Retry is a retry policy with exponential backoff.
type Retry struct {
	// Attempts is the number of attempts including the first; default 8.
	Attempts int
	// Initial is the wait before the second attempt; it doubles after each
	// failure up to Max. Default 1s.
	Initial time.Duration
	// Max caps a wait; default 1 minute.
	Max time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 8
	}
	if r.Initial <= 0 {
		r.Initial = time.Second
	}
	if r.Max <= 0 {
		r.Max = time.Minute
	}
	if r.Max < r.Initial {
		r.Max = r.Initial
	}
	return r
}

// Backoff returns the wait before attempt n+1 after n failed attempts
// (n ≥ 1): Initial·2^(n-1), capped at Max, minus up to a fifth of random
// jitter so that deliveries that failed together do not retry in lockstep.
func (r Retry) Backoff(n int) time.Duration {
	r = r.withDefaults()
	d := r.Initial
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	if d > r.Max {
		d = r.Max
	}
	if j := int64(d / 5); j > 0 {
		d -= time.Duration(rand.Int64N(j))
	}
	return d
}

// Deliverer makes deliveries with retries. The zero value is usable: it
// uses NewHTTPClient, the default Retry and a 10s timeout per attempt.
// A Deliverer is safe for concurrent use.
type Deliverer struct {
	// Client makes the requests; default NewHTTPClient().
	Client *http.Client
	// Retry is the retry policy.
	Retry Retry
	// Timeout bounds each attempt; default 10s.
	Timeout time.Duration
}

// NewHTTPClient returns the client used for deliveries by default: short
// connect and header timeouts; redirects are followed (up to 5) for GET
// and HEAD only, since a POST must not silently turn into a GET.
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || (via[0].Method != http.MethodGet && via[0].Method != http.MethodHead) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

var defaultClient = NewHTTPClient()

// Deliver makes r until the target answers 2xx, the target answers 404 or
// 410 (ErrRefused), the attempts are used up (ErrGaveUp, wrapping the last
// failure) or ctx ends (ctx.Err()). It returns the number of attempts
// made. Errors name the target by scheme and host only: paths and queries
// of callback URLs often carry credentials.
func (d *Deliverer) Deliver(ctx context.Context, r Request) (int, error) {
	retry := d.Retry.withDefaults()
	var last error
	for n := 1; ; n++ {
		status, err := d.Attempt(ctx, r)
		switch {
		case err == nil && status >= 200 && status < 300:
			return n, nil
		case err == nil && (status == http.StatusNotFound || status == http.StatusGone):
			return n, fmt.Errorf("deliver to %s: %w (HTTP %d)", Redact(r.URL), ErrRefused, status)
		case err == nil:
			last = fmt.Errorf("HTTP %d", status)
		default:
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			last = err
		}
		if n >= retry.Attempts {
			return n, fmt.Errorf("deliver to %s: %w: %w", Redact(r.URL), ErrGaveUp, last)
		}
		t := time.NewTimer(retry.Backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return n, ctx.Err()
		case <-t.C:
		}
	}
}

// Attempt makes r once, bounded by Timeout, and returns the target's HTTP
// status. The response body is read (up to 64 KiB) and discarded. Errors
// never contain the target URL.
func (d *Deliverer) Attempt(ctx context.Context, r Request) (int, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return 0, errors.New("invalid target URL")
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	c := d.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry credentials
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Redact returns scheme://host of u, for logs and errors.
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(invalid URL)"
	}
	return p.Scheme + "://" + p.Host
}
