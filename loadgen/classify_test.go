package loadgen_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/tinyscale/tinyscale/loadgen"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		call     string
		status   int
		location string
		body     string
		want     string
	}{
		{"success", "getMeetingInfo", 200, "", "<response><returncode>SUCCESS</returncode><running>true</running></response>", ""},
		{"success_whitespace", "create", 200, "", "<response>\n  <returncode> SUCCESS </returncode>\n</response>", ""},
		{"duplicate_warning_is_success", "create", 200, "", "<response><returncode>SUCCESS</returncode><messageKey>duplicateWarning</messageKey></response>", ""},
		{"failed_key", "getMeetingInfo", 200, "", "<response><returncode>FAILED</returncode><messageKey>notFound</messageKey><message>x</message></response>", "FAILED notFound"},
		{"failed_multi_error", "create", 200, "", "<response><returncode>FAILED</returncode><errors><error><key>validationError</key><message>x</message></error></errors></response>", "FAILED validationError"},
		{"failed_no_key", "end", 200, "", "<response><returncode>FAILED</returncode></response>", "FAILED"},
		{"failed_key_sanitised", "end", 200, "", "<response><returncode>FAILED</returncode><messageKey>a b\x01" + strings.Repeat("k", 100) + "</messageKey></response>", "FAILED a_b_" + strings.Repeat("k", 60)},
		{"not_bbb", "getMeetings", 200, "", "<html>hello</html>", loadgen.KindBadResponse},
		{"odd_returncode", "getMeetings", 200, "", "<response><returncode>MAYBE</returncode></response>", loadgen.KindBadResponse},
		{"empty_body", "getMeetings", 200, "", "", loadgen.KindBadResponse},
		{"join_redirect", "join", 302, "https://bbb1.example.org/html5client/join?sessionToken=abc", "", ""},
		{"join_redirect_error", "join", 302, `https://bbb1.example.org/?errors=%5B%7B%22key%22%3A%22notFound%22%2C%22message%22%3A%22x%22%7D%5D`, "", "FAILED notFound"},
		{"join_redirect_error_bad_json", "join", 302, "https://bbb1.example.org/?errors=nope", "", loadgen.KindFailedRedirect},
		{"join_redirect_error_empty_list", "join", 302, "https://bbb1.example.org/?errors=%5B%5D", "", loadgen.KindFailedRedirect},
		{"join_xml_failure", "join", 200, "", "<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey></response>", "FAILED checksumError"},
		{"redirect_not_join", "getMeetings", 302, "/elsewhere", "", "http 302"},
		{"server_error", "create", 500, "", "oops", "http 500"},
		{"not_found", "create", 404, "", "", "http 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadgen.Classify(tt.call, tt.status, tt.location, []byte(tt.body))
			if got != tt.want {
				t.Errorf("Classify() = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("join", 302, "https://h/?errors=%5B%7B%22key%22%3A%22notFound%22%7D%5D", "")
	f.Add("create", 200, "", "<response><returncode>FAILED</returncode><messageKey>idNotUnique</messageKey></response>")
	f.Add("getMeetings", 200, "", "<response><returncode>SUCCESS</returncode></response>")
	f.Add("join", 301, "%zz", "")
	f.Fuzz(func(t *testing.T, call string, status int, location, body string) {
		got := loadgen.Classify(call, status, location, []byte(body))
		if len(got) > 80 {
			t.Fatalf("Classify() = %q: longer than 80 bytes", got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) || r > unicode.MaxASCII {
				t.Fatalf("Classify() = %q: not printable ASCII", got)
			}
		}
		if got != "" && !strings.HasPrefix(got, "FAILED") && !strings.HasPrefix(got, "http ") && got != loadgen.KindBadResponse {
			t.Fatalf("Classify() = %q: unknown kind", got)
		}
	})
}

func TestClassifyError(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	// A server that answers half a response and hangs up.
	half := newRawServer(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
	})
	// A server that resets the connection.
	reset := newRawServer(t, func(c net.Conn) {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	})
	// A server that never answers, until the test ends.
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(block) })

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	}
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"refused", func() error { return get("http://"+closedAddr+"/", 5*time.Second) }, loadgen.KindConnRefused},
		{"timeout", func() error { return get(slow.URL, 50*time.Millisecond) }, loadgen.KindTimeout},
		{"closed_mid_body", func() error { return get(half, 5*time.Second) }, loadgen.KindConnClosed},
		{"reset_or_closed", func() error { return get(reset, 5*time.Second) }, "connection"},
		{"wrapped_deadline", func() error { return fmt.Errorf("x: %w", context.DeadlineExceeded) }, loadgen.KindTimeout},
		{"other", func() error { return errors.New("tls: bad certificate") }, loadgen.KindConnError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if err == nil {
				t.Fatal("request succeeded, want an error")
			}
			got := loadgen.ClassifyError(err)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("ClassifyError(%v) = %q, want %q", err, got, tt.want)
			}
		})
	}
}

// newRawServer accepts TCP connections, reads the request head and hands
// the connection to handle, then closes it. It returns the base URL.
func newRawServer(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			handle(c)
			c.Close()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String() + "/"
}
