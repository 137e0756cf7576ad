package bbb_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      bbb.Status
		malformed bool
	}{
		{name: "success", body: `<response><returncode>SUCCESS</returncode><running>true</running></response>`,
			want: bbb.Status{ReturnCode: "SUCCESS"}},
		{name: "failed", body: string(readTestdata(t, "checksum_error.xml")),
			want: bbb.Status{ReturnCode: "FAILED", MessageKey: "checksumError", Message: "Checksums do not match"}},
		{name: "multi_error_first_wins", body: string(readTestdata(t, "multi_error.xml")),
			want: bbb.Status{ReturnCode: "FAILED", MessageKey: "missingParamMeetingID", Message: "You must provide a meeting ID"}},
		{name: "success_with_key", body: string(readTestdata(t, "getmeetings_empty.xml")),
			want: bbb.Status{ReturnCode: "SUCCESS", MessageKey: "noMeetings", Message: "no meetings were found on this server"}},
		{name: "declaration_and_bom", body: "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response><returncode>SUCCESS</returncode></response>",
			want: bbb.Status{ReturnCode: "SUCCESS"}},
		{name: "cdata_and_entities", body: `<response><returncode><![CDATA[FAILED]]></returncode><messageKey>k</messageKey><message>a &amp; b</message></response>`,
			want: bbb.Status{ReturnCode: "FAILED", MessageKey: "k", Message: "a & b"}},
		{name: "empty_body", body: "", malformed: true},
		{name: "plain_text", body: "Bad Gateway", malformed: true},
		{name: "html_root", body: "<html><body>502</body></html>", malformed: true},
		{name: "json", body: `{"response":{"returncode":"SUCCESS"}}`, malformed: true},
		{name: "no_returncode", body: "<response><running>true</running></response>", malformed: true},
		{name: "truncated", body: "<response><returncode>SUCCESS</returncode><meetings>", malformed: true},
		{name: "mismatched_tags", body: "<response><returncode>SUCCESS</message></response>", malformed: true},
		{name: "unknown_entity", body: "<response><returncode>SUCCESS&nbsp;</returncode></response>", malformed: true},
		{name: "other_charset", body: `<?xml version="1.0" encoding="ISO-8859-1"?><response><returncode>SUCCESS</returncode></response>`, malformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bbb.ParseStatus([]byte(tt.body))
			if tt.malformed {
				if !errors.Is(err, bbb.ErrMalformed) {
					t.Fatalf("got error %v, want one wrapping ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStatus_Err(t *testing.T) {
	if err := (bbb.Status{ReturnCode: "SUCCESS"}).Err(); err != nil {
		t.Errorf("SUCCESS: got %v, want nil", err)
	}
	err := bbb.Status{ReturnCode: "FAILED", MessageKey: "notFound", Message: "gone"}.Err()
	var e *bbb.Error
	if !errors.As(err, &e) || e.Key != "notFound" || e.Message != "gone" {
		t.Errorf("FAILED: got %v, want *Error notFound/gone", err)
	}
}

func TestParseMeetings(t *testing.T) {
	type want struct {
		id, internal, parent string
		create               int64
		running, breakout    bool
		participants, mods   int
		meta                 map[string]string
	}
	tests := []struct {
		name string
		file string
		want []want
	}{
		{name: "server_a", file: "getmeetings_a.xml", want: []want{
			{id: "room1", internal: "9bceabf6ad2a605ea08c2978036f291387615d40-1717000000001", create: 1717000000001,
				meta: map[string]string{"bbb-origin": "greenlight", "endcallbackurl": "https://lb.example.net/callbacks/end/tok-room1", "bbb-recording-ready-url": ""}},
			{id: "6a1b0c3e2f4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b-1717000100000", internal: "c2f5a1e7b0d94c3a8e6f1b2d3c4a5e6f7a8b9c0d-1717000100000",
				parent: "9bceabf6ad2a605ea08c2978036f291387615d40-1717000000001", create: 1717000100000,
				running: true, breakout: true, participants: 3, mods: 1},
		}},
		{name: "server_b_compact_with_declaration", file: "getmeetings_b.xml", want: []want{
			{id: "room10", internal: "8f5aa7d490f90e79e4ab0d128e18145b8c5b8b4b-1717000200000", create: 1717000200000,
				running: true, participants: 2, mods: 1,
				meta: map[string]string{"bbb-origin": "Moodle", "bn-recording-ready-url": "https://lb.example.net/callbacks/rec/tok-room10"}},
		}},
		{name: "no_meetings", file: "getmeetings_empty.xml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			got, err := bbb.ParseMeetings(body)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d meetings, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.MeetingID != w.id || g.InternalID != w.internal || g.ParentMeetingID != w.parent ||
					g.CreateTime != w.create || g.Running != w.running || g.IsBreakout != w.breakout ||
					g.Participants != w.participants || g.Moderators != w.mods {
					t.Errorf("meeting %d: got %+v, want %+v", i, g, w)
				}
				if !equalMaps(g.Metadata, w.meta) {
					t.Errorf("meeting %d metadata: got %v, want %v", i, g.Metadata, w.meta)
				}
				if !bytes.HasPrefix(g.Raw, []byte("<meeting>")) || !bytes.HasSuffix(g.Raw, []byte("</meeting>")) {
					t.Errorf("meeting %d raw: got %q…, want one whole <meeting> element", i, g.Raw[:min(len(g.Raw), 40)])
				}
				if !bytes.Contains(body, g.Raw) {
					t.Errorf("meeting %d raw: not a byte-for-byte part of the body", i)
				}
			}
		})
	}
}

func TestParseMeetings_Errors(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		key       string // messageKey of a FAILED answer
		malformed bool
	}{
		{name: "failed_answer", body: string(readTestdata(t, "checksum_error.xml")), key: "checksumError"},
		{name: "not_xml", body: "<html>oops", malformed: true},
		{name: "truncated_meeting", body: "<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>x</meetingID>", malformed: true},
		{name: "bad_nesting_in_meeting", body: "<response><returncode>SUCCESS</returncode><meetings><meeting><a></b></meeting></meetings></response>", malformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bbb.ParseMeetings([]byte(tt.body))
			if err == nil {
				t.Fatalf("got %d meetings and no error, want an error", len(got))
			}
			if errors.Is(err, bbb.ErrMalformed) != tt.malformed {
				t.Errorf("got error %v, want malformed=%v", err, tt.malformed)
			}
			var e *bbb.Error
			if tt.key != "" && (!errors.As(err, &e) || e.Key != tt.key) {
				t.Errorf("got error %v, want an *Error with key %q", err, tt.key)
			}
		})
	}
}

func TestParseMeetings_Lenient(t *testing.T) {
	// Bad numbers, unknown children of <meetings> and a namespace prefix are
	// tolerated, as clients tolerate them.
	body := `<response><returncode>SUCCESS</returncode><meetings><note>x</note><meeting><meetingID>m</meetingID>` +
		`<createTime>soon</createTime><participantCount> 7 </participantCount><running>TRUE</running></meeting></meetings></response>`
	got, err := bbb.ParseMeetings([]byte(body))
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if len(got) != 1 || got[0].MeetingID != "m" || got[0].CreateTime != 0 || got[0].Participants != 7 || got[0].Running {
		t.Errorf("got %+v, want one meeting m with createTime 0, 7 participants, not running", got)
	}
}

func TestMergeMeetings(t *testing.T) {
	a, b, empty := readTestdata(t, "getmeetings_a.xml"), readTestdata(t, "getmeetings_b.xml"), readTestdata(t, "getmeetings_empty.xml")
	merged, err := bbb.MergeMeetings([][]byte{a, empty, b})
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	golden(t, "merge_meetings.xml", merged)

	t.Run("union_of_inputs", func(t *testing.T) {
		got, err := bbb.ParseMeetings(merged)
		if err != nil {
			t.Fatalf("parse merged: %v", err)
		}
		ma, _ := bbb.ParseMeetings(a)
		mb, _ := bbb.ParseMeetings(b)
		want := append(ma, mb...)
		if len(got) != len(want) {
			t.Fatalf("got %d meetings, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i].Raw, want[i].Raw) || got[i].InternalID != want[i].InternalID {
				t.Errorf("meeting %d: got %s, want %s", i, got[i].InternalID, want[i].InternalID)
			}
		}
	})
	t.Run("unknown_element_survives", func(t *testing.T) {
		const unknown = `<futureField kind="x">kept &amp; intact<!-- a comment --></futureField>`
		if !bytes.Contains(merged, []byte(unknown)) {
			t.Errorf("merged answer lost %s", unknown)
		}
	})
	t.Run("breakout_and_attendees_survive", func(t *testing.T) {
		for _, s := range []string{"<parentMeetingID>", "<sequence>1</sequence>", "<breakoutRooms><breakout>",
			"<customdata><bbb_override_default_locale>fr</bbb_override_default_locale></customdata>", "<attendeePW>ap&lt;1&gt;</attendeePW>"} {
			if !bytes.Contains(merged, []byte(s)) {
				t.Errorf("merged answer lost %s", s)
			}
		}
	})
}

func TestMergeMeetings_Empty(t *testing.T) {
	const want = "<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey><message>no meetings were found on this server</message></response>"
	tests := []struct {
		name   string
		bodies [][]byte
	}{
		{name: "no_servers", bodies: nil},
		{name: "all_empty", bodies: [][]byte{readTestdata(t, "getmeetings_empty.xml"), []byte("<response><returncode>SUCCESS</returncode><meetings></meetings></response>")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := bbb.MergeMeetings(tt.bodies)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if string(got) != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestMergeMeetings_BadBody(t *testing.T) {
	tests := []struct {
		name      string
		bad       []byte
		key       string
		malformed bool
	}{
		{name: "failed", bad: readTestdata(t, "checksum_error.xml"), key: "checksumError"},
		{name: "garbage", bad: []byte("502 Bad Gateway"), malformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bbb.MergeMeetings([][]byte{readTestdata(t, "getmeetings_a.xml"), tt.bad})
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if !strings.Contains(err.Error(), "body 1") {
				t.Errorf("got error %q, want it to name body 1", err)
			}
			if errors.Is(err, bbb.ErrMalformed) != tt.malformed {
				t.Errorf("got error %v, want malformed=%v", err, tt.malformed)
			}
			var e *bbb.Error
			if tt.key != "" && (!errors.As(err, &e) || e.Key != tt.key) {
				t.Errorf("got error %v, want *Error %s", err, tt.key)
			}
		})
	}
}

func TestMeetingsXML(t *testing.T) {
	tests := []struct {
		name    string
		entries [][]byte
		want    string
	}{
		{name: "none", want: "<response><returncode>SUCCESS</returncode><meetings/><messageKey>noMeetings</messageKey><message>no meetings were found on this server</message></response>"},
		{name: "two", entries: [][]byte{[]byte("<meeting><meetingID>a</meetingID></meeting>"), []byte("<meeting><meetingID>b</meetingID></meeting>")},
			want: "<response><returncode>SUCCESS</returncode><meetings><meeting><meetingID>a</meetingID></meeting><meeting><meetingID>b</meetingID></meeting></meetings></response>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bbb.MeetingsXML(tt.entries); string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			var w bytes.Buffer
			if err := bbb.WriteMeetingsXML(&w, tt.entries); err != nil || w.String() != tt.want {
				t.Errorf("WriteMeetingsXML: got %s, %v; want %s, nil", w.String(), err, tt.want)
			}
		})
	}
}

func TestParseMeetingInfo(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		e, st, err := bbb.ParseMeetingInfo(readTestdata(t, "getmeetinginfo.xml"))
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		if !st.OK() {
			t.Errorf("got status %+v, want SUCCESS", st)
		}
		if e.MeetingID != "physics-101" || e.InternalID != "131d1e0d19cf63ee1d6985a6b700e78f9efe7c3b-1717100000000" ||
			e.CreateTime != 1717100000000 || !e.Running || e.IsBreakout || e.Participants != 4 || e.Moderators != 2 {
			t.Errorf("got %+v, want physics-101 running with 4 participants, 2 moderators", e)
		}
		if got, want := e.Metadata["bbb-context-name"], "Physics <Year 1>"; got != want {
			t.Errorf("metadata bbb-context-name: got %q, want %q", got, want)
		}
		golden(t, "meetinginfo_as_meeting.xml", e.Raw)
		// The raw element is a getMeetings <meeting>: it merges and parses back.
		ms, err := bbb.ParseMeetings(bbb.MeetingsXML([][]byte{e.Raw}))
		if err != nil || len(ms) != 1 {
			t.Fatalf("re-parse as getMeetings: got %d meetings, error %v; want 1, nil", len(ms), err)
		}
		if ms[0].InternalID != e.InternalID || ms[0].Participants != e.Participants || !equalMaps(ms[0].Metadata, e.Metadata) {
			t.Errorf("re-parsed: got %+v, want the fields of %+v", ms[0], e)
		}
		for _, s := range []string{"<returncode>", "<messageKey>", "<message>"} {
			if bytes.Contains(e.Raw, []byte(s)) {
				t.Errorf("raw meeting still contains %s", s)
			}
		}
	})
	t.Run("not_found", func(t *testing.T) {
		e, st, err := bbb.ParseMeetingInfo(readTestdata(t, "getmeetinginfo_notfound.xml"))
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		if st.ReturnCode != "FAILED" || st.MessageKey != "notFound" {
			t.Errorf("got status %+v, want FAILED notFound", st)
		}
		if e.MeetingID != "" || e.Raw != nil {
			t.Errorf("got entry %+v, want zero", e)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		_, _, err := bbb.ParseMeetingInfo([]byte("<response><meetingID>x</meetingID></response>"))
		if !errors.Is(err, bbb.ErrMalformed) {
			t.Errorf("got error %v, want ErrMalformed", err)
		}
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
