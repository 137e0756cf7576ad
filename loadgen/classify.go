package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/tinyscale/tinyscale/bbb"
)

// Error kinds that are not an HTTP status or a messageKey.
const (
	// KindTimeout is a request that did not complete within the timeout.
	KindTimeout = "timeout"
	// KindConnRefused is a refused connection (nothing listens).
	KindConnRefused = "connection refused"
	// KindConnReset is a connection reset by the peer.
	KindConnReset = "connection reset"
	// KindConnClosed is a connection closed before a full answer.
	KindConnClosed = "connection closed"
	// KindConnError is any other transport failure (DNS, TLS, dial).
	KindConnError = "connection error"
	// KindBadResponse is an answer with status 200 that is not a BBB
	// response (no returncode).
	KindBadResponse = "bad response"
	// KindFailedRedirect is a join redirect carrying an unreadable errors
	// parameter.
	KindFailedRedirect = "FAILED redirect"
)

// maxKeyLen bounds a messageKey taken from an answer, so a misbehaving
// server cannot fill memory or the terminal.
const maxKeyLen = 64

// Classify returns "" if the answer to call is a success, or the kind of
// error: "http <status>" for an unexpected HTTP status, "FAILED <messageKey>"
// for a BBB failure (also for a join redirected with BBB's errors=[…]
// parameter), or KindBadResponse. A redirect counts as success only for
// join, and it is never followed.
func Classify(call string, status int, location string, body []byte) string {
	switch status {
	case http.StatusOK:
		return classifyBody(body)
	case http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther, http.StatusTemporaryRedirect:
		if call != bbb.CallJoin {
			return "http " + strconv.Itoa(status)
		}
		return classifyRedirect(location)
	}
	return "http " + strconv.Itoa(status)
}

// classifyBody reads returncode and messageKey out of a BBB XML answer.
func classifyBody(body []byte) string {
	code, ok := element(body, "returncode")
	if !ok {
		return KindBadResponse
	}
	switch string(code) {
	case "SUCCESS":
		return ""
	case "FAILED":
		key, _ := element(body, "messageKey")
		if len(key) == 0 {
			// The multi-error form: <errors><error><key>…</key>.
			key, _ = element(body, "key")
		}
		if len(key) == 0 {
			return "FAILED"
		}
		return "FAILED " + cleanKey(string(key))
	}
	return KindBadResponse
}

// element returns the text of the first <name>…</name> in body.
func element(body []byte, name string) ([]byte, bool) {
	open := "<" + name + ">"
	i := bytes.Index(body, []byte(open))
	if i < 0 {
		return nil, false
	}
	rest := body[i+len(open):]
	j := bytes.Index(rest, []byte("</"+name+">"))
	if j < 0 {
		return nil, false
	}
	return bytes.TrimSpace(rest[:j]), true
}

// classifyRedirect looks for BBB's errors=[{"key":…}] on a join redirect.
func classifyRedirect(location string) string {
	if !strings.Contains(location, "errors=") {
		return ""
	}
	u, err := url.Parse(location)
	if err != nil {
		return KindFailedRedirect
	}
	raw, ok := u.Query()["errors"]
	if !ok {
		return ""
	}
	var errs []struct {
		Key string `json:"key"`
	}
	if len(raw) == 0 || json.Unmarshal([]byte(raw[0]), &errs) != nil || len(errs) == 0 || errs[0].Key == "" {
		return KindFailedRedirect
	}
	return "FAILED " + cleanKey(errs[0].Key)
}

// cleanKey keeps a messageKey printable and short.
func cleanKey(k string) string {
	b := make([]byte, 0, min(len(k), maxKeyLen))
	for i := 0; i < len(k) && len(b) < maxKeyLen; i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f {
			c = '_'
		}
		b = append(b, c)
	}
	return string(b)
}

// ClassifyError returns the kind of a transport error from an HTTP client:
// KindTimeout, one of the connection kinds, or KindConnError.
func ClassifyError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return KindConnReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindConnClosed
	}
	return KindConnError
}
