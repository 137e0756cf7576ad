package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// BenchmarkGetMeetings measures getMeetings over 10 servers with 50
// meetings each (answers as fakebbb renders them): the fan-out, the
// parsing and the merged answer, one request at a time and four at once
// (as concurrent dashboards poll it).
func BenchmarkGetMeetings(b *testing.B) {
	h := newHarness(b, 10)
	for s := range 10 {
		for k := range 50 {
			h.createDirect(s, fmt.Sprintf("bench-%d-%d", s, k))
		}
	}
	target := h.url(bbb.CallGetMeetings, nil)
	get := func() {
		w := httptest.NewRecorder()
		h.gw.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.Code != http.StatusOK || w.Body.Len() < 100_000 {
			b.Fatalf("getMeetings: got HTTP %d, %d bytes", w.Code, w.Body.Len())
		}
	}
	get()
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get()
		}
	})
	b.Run("four", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					get()
				}()
			}
			wg.Wait()
		}
	})
}
