package main

import (
	"context"
	"net/http"
	"testing"
)

func TestServe_AnswersEveryRequestWith302(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, "127.0.0.1:0", ready) }()
	addr := <-ready
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, method, path string
	}{
		{"join", http.MethodGet, "/bigbluebutton/api/join?meetingID=x&checksum=y"},
		{"get_meetings", http.MethodGet, "/bigbluebutton/api/getMeetings"},
		{"root_post", http.MethodPost, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got, want := resp.StatusCode, http.StatusFound; got != want {
				t.Errorf("got status %d, want %d", got, want)
			}
			if got, want := resp.Header.Get("Location"), location; got != want {
				t.Errorf("got Location %q, want %q", got, want)
			}
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve() = %v, want nil after shutdown", err)
	}
}
