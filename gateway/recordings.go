package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/bbb"
	"github.com/tinyscale/tinyscale/fleet"
)

// Recordings.
//
// getRecordings asks every fan-out server in parallel and pages the merged
// answer globally, the way one bbb-web 2.6+ would (bbb.ApplyRecordings).
// The filters that narrow the answer (IDs, state, meta_*) are forwarded;
// offset and limit are not. Each server must return all its matches, so:
// without a client limit the forwarded query has none either (a server
// then answers unpaged; with allowFetchAllRecordings=false and no IDs it
// answers nothing, as one such server would to the client); with a client
// limit, each server is read in pages of bbb.MaxRecordingsLimit until it
// has no more, which also works when allowFetchAllRecordings=false.
//
// The calls on given recordIDs are routed by the recordings index
// (Store.RecordingServer), filled from every getRecordings answer, every
// recording-ready callback and the internal ID of every meeting whose end
// tinyscale learns; IDs it does not know are looked up with one parallel
// getRecordings?recordID=…&state=any over all servers. A comma list that
// spans servers is split and the answers combined as one server would
// answer: SUCCESS if any part succeeded, notFound if none found anything.

// maxRecordingPages bounds the pages read from one server for a paged
// getRecordings (100 recordings each).
const maxRecordingPages = 500

func (g *Gateway) getRecordings(ctx context.Context, x *exchange) error {
	f, err := bbb.RecordingFilterFromQuery(x.req.Params)
	if err != nil {
		return fmt.Errorf("getRecordings: %w", err)
	}
	fwd := bbb.ParseQuery(x.req.ForwardQuery()).Del(bbb.ParamOffset).Del(bbb.ParamLimit)
	backends := g.fanOutBackends()
	type result struct {
		recs []bbb.Recording
		err  error
	}
	results := make([]result, len(backends))
	var wg sync.WaitGroup
	for i, b := range backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := g.serverRecordings(ctx, b, fwd, f.Paged())
			results[i] = result{recs, err}
			if err != nil && ctx.Err() == nil {
				g.log.Warn("server skipped in fan-out", "call", x.call, "server", b.ID, "err", err)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	var all []bbb.Recording
	index := map[string]string{}
	failed := 0
	for i, r := range results {
		if r.err != nil {
			failed++
			continue
		}
		for _, rec := range r.recs {
			index[rec.RecordID] = backends[i].ID
		}
		all = append(all, r.recs...)
	}
	if len(backends) > 0 && failed == len(backends) {
		return bbb.ErrServerUnavailable
	}
	g.rememberRecordings(ctx, index)
	page, total := bbb.ApplyRecordings(all, f)
	res := "SUCCESS"
	if len(page) == 0 {
		res = "noRecordings"
	}
	x.xml(g.restoreMetadata(bbb.RecordingsXML(page, total, f.Paged())), res)
	return nil
}

// serverRecordings reads every recording of b that matches the forwarded
// filters fwd: with one unpaged call, or page by page if paged.
func (g *Gateway) serverRecordings(ctx context.Context, b *fleet.Backend, fwd bbb.Query, paged bool) ([]bbb.Recording, error) {
	base := fwd.Encode()
	if !paged {
		body, err := g.get(ctx, b, bbb.CallGetRecordings, base, g.cfg.FanOutTimeout)
		if err != nil {
			return nil, err
		}
		return bbb.ParseRecordings(body)
	}
	if base != "" {
		base += "&"
	}
	var out []bbb.Recording
	seen := map[string]bool{}
	for p := 0; p < maxRecordingPages; p++ {
		q := base + "offset=" + strconv.Itoa(p*bbb.MaxRecordingsLimit) + "&limit=" + strconv.Itoa(bbb.MaxRecordingsLimit)
		body, err := g.get(ctx, b, bbb.CallGetRecordings, q, g.cfg.FanOutTimeout)
		if err != nil {
			return nil, err
		}
		recs, err := bbb.ParseRecordings(body)
		if err != nil {
			return nil, err
		}
		added := 0
		for _, r := range recs {
			if !seen[r.RecordID] {
				seen[r.RecordID] = true
				out = append(out, r)
				added++
			}
		}
		// A short page is the last; a page with nothing new means the
		// server ignores offset (pre-2.6) and sent everything at once.
		if len(recs) < bbb.MaxRecordingsLimit || added == 0 {
			return out, nil
		}
	}
	g.log.Warn("getRecordings: server has more recordings than tinyscale reads", "server", b.ID, "limit", maxRecordingPages*bbb.MaxRecordingsLimit)
	return out, nil
}

// rememberRecordings stores recordID → server ID (best effort).
func (g *Gateway) rememberRecordings(ctx context.Context, index map[string]string) {
	if len(index) == 0 {
		return
	}
	if err := g.cfg.Store.PutRecordings(ctx, index); err != nil && ctx.Err() == nil {
		g.cfg.Metrics.StoreError("PutRecordings")
		g.log.Warn("remember recordings", "err", err)
	}
}

// splitRecordIDs splits a recordID comma list as bbb-web does (URL-decoded
// once more, items stripped), dropping empty and repeated items.
func splitRecordIDs(v string) []string {
	if d, err := url.QueryUnescape(v); err == nil {
		v = d
	}
	var ids []string
	seen := map[string]bool{}
	for _, id := range strings.Split(v, ",") {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids
}

// locateRecordings maps recordIDs to the servers holding them. It returns
// the servers in first-appearance order with their IDs; IDs no server
// holds are left out.
func (g *Gateway) locateRecordings(ctx context.Context, ids []string) ([]*fleet.Backend, map[string][]string, error) {
	where := make(map[string]string, len(ids)) // recordID → server ID
	var unknown []string
	for _, id := range ids {
		sid, err := g.cfg.Store.RecordingServer(ctx, id)
		if err == nil {
			if _, ok := g.cfg.Fleet.Backend(sid); ok {
				where[id] = sid
				continue
			}
		} else if !errors.Is(err, tinyscale.ErrNotFound) {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			// The index is a cache: without it, ask the servers.
			g.cfg.Metrics.StoreError("RecordingServer")
			g.log.Warn("recordings index unavailable", "err", err)
		}
		unknown = append(unknown, id)
	}
	if len(unknown) > 0 {
		found := g.findRecordings(ctx, unknown)
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		for id, sid := range found {
			where[id] = sid
		}
		g.rememberRecordings(ctx, found)
	}
	var order []*fleet.Backend
	groups := map[string][]string{}
	for _, id := range ids {
		sid, ok := where[id]
		if !ok {
			continue
		}
		b, ok := g.cfg.Fleet.Backend(sid)
		if !ok {
			continue
		}
		if _, seen := groups[sid]; !seen {
			order = append(order, b)
		}
		groups[sid] = append(groups[sid], id)
	}
	return order, groups, nil
}

// findRecordings asks every fan-out server for the recordings with exactly
// these IDs (in any state) and returns recordID → server ID.
func (g *Gateway) findRecordings(ctx context.Context, ids []string) map[string]string {
	want := make(map[string]bool, len(ids))
	esc := make([]string, len(ids))
	for i, id := range ids {
		want[id] = true
		esc[i] = url.QueryEscape(id)
	}
	query := "recordID=" + strings.Join(esc, ",") + "&state=any"
	found := map[string]string{}
	for _, r := range g.fanOut(ctx, g.fanOutBackends(), bbb.CallGetRecordings, query) {
		if r.Err != nil {
			continue
		}
		recs, err := bbb.ParseRecordings(r.Body)
		if err != nil {
			g.log.Warn("recording lookup: bad answer", "server", r.Backend.ID, "err", err)
			continue
		}
		for _, rec := range recs {
			// BBB matches recordID prefixes; only exact IDs count here.
			if want[rec.RecordID] {
				if _, dup := found[rec.RecordID]; !dup {
					found[rec.RecordID] = r.Backend.ID
				}
			}
		}
	}
	return found
}

// withRecordIDs returns the forwarded query with its recordID value
// replaced by ids (comma-joined, each escaped); other pairs stay raw.
func withRecordIDs(fwd string, ids []string) string {
	esc := make([]string, len(ids))
	for i, id := range ids {
		esc[i] = url.QueryEscape(id)
	}
	raw := strings.Join(esc, ",")
	q := bbb.ParseQuery(fwd)
	out := make(bbb.Query, 0, len(q))
	done := false
	for _, p := range q {
		if p.Name == bbb.ParamRecordID {
			if done {
				continue
			}
			done = true
			p = bbb.Pair{RawName: p.RawName, RawValue: raw, Name: p.Name, Value: strings.Join(ids, ",")}
		}
		out = append(out, p)
	}
	return out.Encode()
}

// byRecordings answers publishRecordings, updateRecordings and
// deleteRecordings.
func (g *Gateway) byRecordings(ctx context.Context, x *exchange) error {
	q := x.req.Params
	ids := splitRecordIDs(q.Get(bbb.ParamRecordID))
	if len(ids) == 0 {
		return bbb.ErrMissingRecordID
	}
	if x.call == bbb.CallPublishRecordings && strings.TrimSpace(q.Get(bbb.ParamPublish)) == "" {
		return bbb.ErrMissingPublish
	}
	order, groups, err := g.locateRecordings(ctx, ids)
	if err != nil {
		return err
	}
	if len(order) == 0 {
		return bbb.ErrRecordingNotFound
	}
	fwd := x.req.ForwardQuery()
	if len(order) == 1 {
		// One server: forward the client's query unchanged; that server
		// answers exactly as it would have for the whole list.
		return g.forwardRecordingCall(ctx, x, order[0])
	}
	type part struct {
		st   bbb.Status
		body []byte
		err  error
	}
	parts := make([]part, len(order))
	var wg sync.WaitGroup
	for i, b := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := g.get(ctx, b, x.call, withRecordIDs(fwd, groups[b.ID]), g.cfg.BackendTimeout)
			if err != nil {
				parts[i].err = err
				return
			}
			st, err := bbb.ParseStatus(body)
			if err == nil && st.MessageKey == keyChecksumError {
				err = errBackendChecksum
			}
			parts[i] = part{st: st, body: body, err: err}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	servers := make([]string, len(order))
	for i, b := range order {
		servers[i] = b.ID
	}
	x.server = strings.Join(servers, ",")
	var failed *part
	anyErr := false
	for i := range parts {
		p := &parts[i]
		if p.err != nil {
			g.log.Warn("recording call failed on server", "call", x.call, "server", order[i].ID, "err", p.err)
			anyErr = true
			continue
		}
		if p.st.OK() {
			x.xml(p.body, "SUCCESS")
			return nil
		}
		if failed == nil && p.st.MessageKey != bbb.ErrRecordingNotFound.Key {
			failed = p
		}
	}
	switch {
	case failed != nil:
		x.xml(failed.body, failed.st.MessageKey)
		return nil
	case anyErr:
		// A server holding some of the recordings did not answer: they
		// may well exist, so notFound would mislead.
		return bbb.ErrServerUnavailable
	}
	return bbb.ErrRecordingNotFound
}

// forwardRecordingCall forwards a recording call to b and relays its
// answer; a server that cannot be reached or fails is reported as
// serverUnavailable.
func (g *Gateway) forwardRecordingCall(ctx context.Context, x *exchange, b *fleet.Backend) error {
	return g.forward(ctx, x, b, nil, func() error { return bbb.ErrServerUnavailable })
}

// byRecording answers getRecordingTextTracks and putRecordingTextTrack:
// one recordID, routed to its server; the multipart body of
// putRecordingTextTrack is forwarded byte for byte with its Content-Type.
func (g *Gateway) byRecording(ctx context.Context, x *exchange) error {
	put := x.call == bbb.CallPutRecordingTextTrack
	id := strings.TrimSpace(x.req.Params.Get(bbb.ParamRecordID))
	if id == "" && put {
		// bbb-web also reads parameters from the multipart fields.
		id = strings.TrimSpace(multipartField(x.req, bbb.ParamRecordID))
	}
	if id == "" {
		if put {
			g.jsonFail(x, "paramError", "Missing param recordID.")
			return nil
		}
		return bbb.ErrMissingRecordID
	}
	order, _, err := g.locateRecordings(ctx, []string{id})
	if err != nil {
		return err
	}
	if len(order) == 0 {
		if put {
			g.jsonFail(x, "noRecordings", "No recording was found for "+id)
		} else {
			g.jsonFail(x, "noRecordings", "No recording found")
		}
		return nil
	}
	return g.forwardRecordingCall(ctx, x, order[0])
}

// multipartField returns the value of the first non-file part called name
// of a multipart/form-data body, or "".
func multipartField(r *bbb.Request, name string) string {
	if bbb.MediaType(r.ContentType) != "multipart/form-data" || len(r.Body) == 0 {
		return ""
	}
	_, params, err := mime.ParseMediaType(r.ContentType)
	if err != nil || params["boundary"] == "" {
		return ""
	}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return ""
		}
		if part.FormName() == name && part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, 4096))
			if err != nil {
				return ""
			}
			return string(v)
		}
	}
}

// jsonFail answers a JSON call (text tracks) with a FAILED envelope.
func (g *Gateway) jsonFail(x *exchange, key, message string) {
	x.result = key
	x.written = true
	bbb.WriteJSONError(x.w, bbb.NewError(key, message))
}
