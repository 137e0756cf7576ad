package bbb_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// fakeServer answers like a BBB server that checks checksums with secret.
func fakeServer(tb testing.TB, secret string, status int) *httptest.Server {
	tb.Helper()
	v := bbb.Verifier{Secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		r, err := bbb.ReadRequest(hr, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			_, _ = io.WriteString(w, "upstream trouble")
			return
		}
		if err := v.Verify(r); err != nil {
			bbb.WriteError(w, bbb.ErrChecksum)
			return
		}
		bbb.WriteXML(w, []byte("<response><returncode>SUCCESS</returncode><call>"+bbb.Escape(r.Call)+"</call><method>"+r.Method+
			"</method><q>"+bbb.Escape(r.ForwardQuery())+"</q><ct>"+bbb.Escape(r.ContentType)+"</ct><body>"+bbb.Escape(string(r.Body))+"</body></response>"))
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func TestClient_Get(t *testing.T) {
	srv := fakeServer(t, "s3cret", http.StatusOK)
	for _, alg := range []string{"", bbb.SHA1, bbb.SHA512} {
		t.Run("alg_"+alg, func(t *testing.T) {
			c := &bbb.Client{BaseURL: srv.URL + bbb.APIPath, Secret: "s3cret", Algorithm: alg, HTTP: srv.Client()}
			body, err := c.Get(context.Background(), bbb.CallGetMeetingInfo, "meetingID=a%20b")
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !strings.Contains(string(body), "<returncode>SUCCESS</returncode><call>getMeetingInfo</call><method>GET</method><q>meetingID=a%20b</q>") {
				t.Errorf("got %s, want the signed call accepted", body)
			}
		})
	}
	t.Run("wrong_secret", func(t *testing.T) {
		c := &bbb.Client{BaseURL: srv.URL + bbb.APIPath, Secret: "other", HTTP: srv.Client()}
		body, err := c.Get(context.Background(), bbb.CallGetMeetings, "")
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := bbb.ParseStatus(body); st.MessageKey != "checksumError" {
			t.Errorf("got %+v, want checksumError", st)
		}
	})
}

func TestClient_URL(t *testing.T) {
	c := &bbb.Client{BaseURL: "https://bbb1.example.org/bigbluebutton/api/", Secret: vecSecret, Algorithm: bbb.SHA1}
	want := "https://bbb1.example.org/bigbluebutton/api/create?" + vecQuery + "&checksum=" + vecSHA1
	if got := c.URL(vecCall, vecQuery); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	c.Algorithm = ""
	if got := c.URL(bbb.CallGetMeetings, ""); !strings.HasSuffix(got, "getMeetings?checksum="+bbb.Checksum(bbb.SHA256, "getMeetings", "", vecSecret)) {
		t.Errorf("default algorithm: got %s, want sha256", got)
	}
}

func TestClient_Do(t *testing.T) {
	srv := fakeServer(t, "s3cret", http.StatusOK)
	c := &bbb.Client{BaseURL: srv.URL + bbb.APIPath, Secret: "s3cret", HTTP: srv.Client()}
	resp, err := c.Do(context.Background(), http.MethodPost, bbb.CallCreate, "meetingID=x", "application/xml", strings.NewReader("<modules/>"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "<method>POST</method><q>meetingID=x</q><ct>application/xml</ct><body>&lt;modules/&gt;</body>") {
		t.Errorf("got %s, want the POST with its body and Content-Type", body)
	}
}

func TestClient_Errors(t *testing.T) {
	t.Run("http_status", func(t *testing.T) {
		srv := fakeServer(t, "s3cret", http.StatusBadGateway)
		c := &bbb.Client{BaseURL: srv.URL + bbb.APIPath, Secret: "s3cret", HTTP: srv.Client()}
		body, err := c.Get(context.Background(), bbb.CallGetMeetings, "")
		if err == nil || !strings.Contains(err.Error(), "502") {
			t.Errorf("got %v, want an error naming status 502", err)
		}
		if string(body) != "upstream trouble" {
			t.Errorf("body: got %q, want the server's body", body)
		}
	})
	t.Run("connection_refused_redacted", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := &bbb.Client{BaseURL: "http://" + addr + bbb.APIPath, Secret: "s3cret"}
		_, err = c.Get(context.Background(), bbb.CallGetMeetings, "meetingID=a")
		if err == nil {
			t.Fatal("got nil, want a connection error")
		}
		if strings.Contains(err.Error(), "checksum") || strings.Contains(err.Error(), "meetingID") {
			t.Errorf("error %q leaks the query", err)
		}
		var ue interface{ Timeout() bool }
		if !errors.As(err, &ue) {
			t.Errorf("error chain lost the *url.Error: %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		srv := fakeServer(t, "s3cret", http.StatusOK)
		c := &bbb.Client{BaseURL: srv.URL + bbb.APIPath, Secret: "s3cret", HTTP: srv.Client()}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Get(ctx, bbb.CallGetMeetings, ""); !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
	t.Run("bad_base_url", func(t *testing.T) {
		c := &bbb.Client{BaseURL: "http://[::1", Secret: "s3cret"}
		if _, err := c.Get(context.Background(), bbb.CallGetMeetings, ""); err == nil || strings.Contains(err.Error(), "checksum=") {
			t.Errorf("got %v, want an error without the checksum", err)
		}
	})
}

// TestClient_URL_Allocs: a join redirect signs one URL per request; it is
// built in one allocation.
func TestClient_URL_Allocs(t *testing.T) {
	c := &bbb.Client{BaseURL: "https://bbb1.example.org/bigbluebutton/api/", Secret: vecSecret, Algorithm: bbb.SHA512}
	if got := testing.AllocsPerRun(100, func() { _ = c.URL(bbb.CallJoin, vecQuery) }); got != 1 {
		t.Errorf("got %v allocations, want 1", got)
	}
	if got := testing.AllocsPerRun(100, func() { _ = bbb.Sign(bbb.SHA1, bbb.CallJoin, vecQuery, vecSecret) }); got != 1 {
		t.Errorf("Sign: got %v allocations, want 1", got)
	}
}
