package bbb

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// DefaultMaxBody is the default limit on a request body (create with
// embedded slides, insertDocument, putRecordingTextTrack).
const DefaultMaxBody = 64 << 20

// Request is one BBB API call as received: a plain value, independent of
// net/http, that keeps the raw query and body so they can be forwarded
// byte for byte.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Call is the call name after /bigbluebutton/api/ ("" for the index).
	Call string
	// RawQuery is the query string as received, checksum included.
	RawQuery string
	// Params holds the query's pairs followed by those of a form body.
	Params Query
	// Form holds only the pairs of an application/x-www-form-urlencoded body.
	Form Query
	// Body is a non-form body (XML, multipart), byte for byte; nil if none.
	Body []byte
	// ContentType is the Content-Type header as received.
	ContentType string
}

// CallFromPath returns the call name of an API path, and false if the path
// is not under /bigbluebutton/api.
func CallFromPath(path string) (string, bool) {
	const base = "/bigbluebutton/api"
	if !strings.HasPrefix(path, base) {
		return "", false
	}
	rest := path[len(base):]
	if rest == "" || rest == "/" {
		return CallIndex, true
	}
	if rest[0] != '/' {
		return "", false
	}
	return strings.TrimSuffix(rest[1:], "/"), true
}

// ErrBodyTooLarge is returned by ReadRequest for bodies over the limit.
var ErrBodyTooLarge = errors.New("request body too large")

// ReadRequest reads r into a Request. The body is read up to maxBody bytes
// (DefaultMaxBody if 0).
func ReadRequest(r *http.Request, maxBody int64) (*Request, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	call, _ := CallFromPath(r.URL.Path)
	req := &Request{
		Method:      r.Method,
		Call:        call,
		RawQuery:    r.URL.RawQuery,
		Params:      ParseQuery(r.URL.RawQuery),
		ContentType: r.Header.Get("Content-Type"),
	}
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return req, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, ErrBodyTooLarge
	}
	if len(body) == 0 {
		return req, nil
	}
	if MediaType(req.ContentType) == "application/x-www-form-urlencoded" {
		req.Form = ParseQuery(string(body))
		req.Params = append(req.Params[:len(req.Params):len(req.Params)], req.Form...)
		return req, nil
	}
	req.Body = body
	return req, nil
}

// MediaType returns the lower-cased media type of a Content-Type header
// without parameters, or "" if it is empty or malformed.
func MediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

// CheckContentType applies BBB 2.6.18+/3.0 Content-Type rules to a POST
// with a body: form and multipart everywhere, XML for create and
// insertDocument. It returns ErrUnsupportedContentType otherwise.
func (r *Request) CheckContentType() error {
	if r.Method != http.MethodPost || (len(r.Body) == 0 && len(r.Form) == 0) {
		return nil
	}
	switch MediaType(r.ContentType) {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if r.Call == CallInsertDocument {
			return ErrUnsupportedContentType
		}
		return nil
	case "application/xml", "text/xml":
		if r.Call == CallCreate || r.Call == CallInsertDocument {
			return nil
		}
	}
	return ErrUnsupportedContentType
}

// ForwardQuery returns the query to send to a backend: the client's raw
// query minus its checksum, byte for byte, with form-body parameters
// appended (bbb-web merges both). The result carries no checksum.
func (r *Request) ForwardQuery() string {
	rest, _ := StripChecksum(r.RawQuery)
	if len(r.Form) == 0 {
		return rest
	}
	form := r.Form.Del(ParamChecksum).Encode()
	if rest == "" {
		return form
	}
	if form == "" {
		return rest
	}
	return rest + "&" + form
}
