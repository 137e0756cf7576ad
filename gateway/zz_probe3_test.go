package gateway_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestZZConcurrency(t *testing.T) {
	h := newHarness(t, 3)
	const n = 40
	var wg sync.WaitGroup
	res := make([]result, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			pw := fmt.Sprint("ap", i%2)
			switch i % 5 {
			case 3:
				res[i] = h.get(bbb.CallEnd, p("meetingID", "race-room"))
			case 4:
				res[i] = h.get(bbb.CallJoin, p("meetingID", "race-room", "fullName", "A", "role", "VIEWER"))
			default:
				res[i] = h.get(bbb.CallCreate, p("meetingID", "race-room", "name", "Race", "attendeePW", pw, "moderatorPW", "mp"))
			}
		}()
	}
	close(start)
	wg.Wait()
	keys := map[string]int{}
	for i, r := range res {
		if r.status == http.StatusFound {
			keys["302"]++
			continue
		}
		st := r.st(t)
		keys[fmt.Sprint(i%5, st.ReturnCode, st.MessageKey)]++
	}
	t.Logf("%v", keys)
	total := 0
	for _, fb := range h.bbbs {
		total += fb.MeetingCount()
	}
	t.Logf("meetings: %d mapped=%q", total, h.mapped("race-room"))

	// getMeetings while servers die
	for i := 0; i < 6; i++ {
		h.create(fmt.Sprint("gm-", i))
	}
	var wg2 sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			r := h.get(bbb.CallGetMeetings, nil)
			if r.status != 200 {
				t.Errorf("getMeetings: %s", r)
			}
		}()
		if i == 5 {
			h.closeServer(1)
		}
		if i == 10 {
			h.setHealth(2, false)
		}
	}
	wg2.Wait()
}
