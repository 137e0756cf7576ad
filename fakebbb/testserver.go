package fakebbb

import (
	"net/http/httptest"
	"testing"
)

// NewTestServer starts a Server with the secret on a local httptest
// server, sets its URL, applies opts (which may set any other field before
// the first request) and registers a cleanup that stops the server's
// background work and then the HTTP server.
func NewTestServer(tb testing.TB, secret string, opts ...func(*Server)) *Server {
	tb.Helper()
	s := &Server{Secret: secret}
	ts := httptest.NewUnstartedServer(s)
	s.URL = "http://" + ts.Listener.Addr().String()
	for _, o := range opts {
		o(s)
	}
	ts.Start()
	tb.Cleanup(func() {
		_ = s.Close()
		ts.Close()
	})
	return s
}

// APIURL returns the base of the server's API, URL + "/bigbluebutton/api/".
func (s *Server) APIURL() string {
	return s.baseURL(nil) + "/bigbluebutton/api/"
}
