package fakebbb

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// State is what GET /fakebbb/state answers.
type State struct {
	// Meetings, Recordings and Hooks are as the methods of the same names
	// return them.
	Meetings   []Meeting   `json:"meetings"`
	Recordings []Recording `json:"recordings"`
	Hooks      []Hook      `json:"hooks"`
	// Calls counts API requests by call name ("" for the index).
	Calls map[string]int `json:"calls"`
	// Faults are the active faults by call name ("" for every call).
	Faults map[string]Fault `json:"faults"`
	// Latency is the added latency, like "50ms".
	Latency string `json:"latency"`
}

// Snapshot returns the whole state: meetings, recordings, hooks, call
// counts (index under ""), faults by call ("" for all calls) and latency.
func (s *Server) Snapshot() State {
	out := State{Meetings: s.Meetings(), Recordings: s.Recordings(), Hooks: s.Hooks()}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state()
	out.Calls = make(map[string]int, len(st.calls))
	for k, v := range st.calls {
		out.Calls[k] = v
	}
	out.Faults = make(map[string]Fault, len(st.faults))
	for k, v := range st.faults {
		out.Faults[k] = v
	}
	out.Latency = s.Latency.String()
	return out
}

// controlMux serves the control endpoints, which real BBB does not have.
// They need no checksum and answer JSON: 200 on success, 400 for bad
// parameters, 404 for unknown meetings, {"error": "..."} on failure.
// Unknown endpoints get a plain 404, wrong methods a 405.
func (s *Server) controlMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fakebbb/state", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, s.Snapshot())
	})
	mux.HandleFunc("POST /fakebbb/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		writeControl(w, http.StatusOK, map[string]bool{"reset": true})
	})
	mux.HandleFunc("POST /fakebbb/meetings/{id}/participants", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			controlError(w, http.StatusBadRequest, "n must be an integer")
			return
		}
		id := r.PathValue("id")
		if n < 0 {
			err = s.RemoveParticipants(id, -n)
		} else {
			err = s.AddParticipants(id, n)
		}
		if err != nil {
			controlFail(w, err)
			return
		}
		m, err := s.Meeting(id)
		if err != nil {
			controlFail(w, err)
			return
		}
		writeControl(w, http.StatusOK, m)
	})
	mux.HandleFunc("POST /fakebbb/meetings/{id}/end", func(w http.ResponseWriter, r *http.Request) {
		if err := s.EndMeeting(r.PathValue("id")); err != nil {
			controlFail(w, err)
			return
		}
		writeControl(w, http.StatusOK, map[string]bool{"ended": true})
	})
	mux.HandleFunc("POST /fakebbb/meetings/{id}/breakouts", func(w http.ResponseWriter, r *http.Request) {
		n := 1
		if v := r.URL.Query().Get("n"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				controlError(w, http.StatusBadRequest, "n must be an integer")
				return
			}
		}
		ids, err := s.CreateBreakouts(r.PathValue("id"), n)
		if err != nil {
			controlFail(w, err)
			return
		}
		writeControl(w, http.StatusOK, map[string][]string{"breakouts": ids})
	})
	mux.HandleFunc("POST /fakebbb/fault", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if err := s.SetCallFault(q.Get("call"), Fault(q.Get("mode"))); err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeControl(w, http.StatusOK, map[string]string{"call": q.Get("call"), "mode": q.Get("mode")})
	})
	mux.HandleFunc("POST /fakebbb/latency", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil || d < 0 {
			controlError(w, http.StatusBadRequest, "d must be a non-negative duration like 50ms")
			return
		}
		s.SetLatency(d)
		writeControl(w, http.StatusOK, map[string]string{"latency": d.String()})
	})
	mux.HandleFunc("POST /fakebbb/recordings", func(w http.ResponseWriter, r *http.Request) {
		p := parseParams(r.URL.RawQuery)
		id := p.get("meetingID")
		if id == "" {
			controlError(w, http.StatusBadRequest, "meetingID is required")
			return
		}
		n := 1
		if v := p.get("n"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				controlError(w, http.StatusBadRequest, "n must be a positive integer")
				return
			}
		}
		meta := map[string]string{}
		p.meta().each(func(k, v string) { meta[k] = v })
		recs, err := s.AddRecordings(id, n, meta)
		if err != nil {
			controlError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeControl(w, http.StatusOK, map[string][]Recording{"recordings": recs})
	})
	return mux
}

func writeControl(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(marshalJSON(v), '\n'))
}

func controlError(w http.ResponseWriter, status int, msg string) {
	writeControl(w, status, map[string]string{"error": msg})
}

func controlFail(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, ErrNotFound) {
		status = http.StatusNotFound
	}
	controlError(w, status, err.Error())
}
