package bbb_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// relayToOrigin maps tinyscale's relay callback URLs back to the client's.
func relayToOrigin(key, value string) (string, bool) {
	if strings.HasPrefix(value, "https://lb.example.net/callbacks/") {
		return "https://client.example.com/hook?from=" + key + "&v=1", true
	}
	return "", false
}

func TestRewriteMetadata(t *testing.T) {
	meetings, err := bbb.ParseMeetings(readTestdata(t, "getmeetings_a.xml"))
	if err != nil {
		t.Fatal(err)
	}
	room1 := meetings[0].Raw
	tests := []struct {
		name string
		raw  string
		fn   func(k, v string) (string, bool)
		want string
	}{
		{name: "replace_and_escape", raw: string(room1), fn: relayToOrigin,
			want: strings.Replace(string(room1), "https://lb.example.net/callbacks/end/tok-room1",
				"https://client.example.com/hook?from=endcallbackurl&amp;v=1", 1)},
		{name: "cdata_value", raw: `<meeting><metadata><a><![CDATA[x <y>]]></a></metadata></meeting>`,
			fn:   func(k, v string) (string, bool) { return strings.ToUpper(v), v == "x <y>" },
			want: `<meeting><metadata><a>X &lt;Y&gt;</a></metadata></meeting>`},
		{name: "self_closing_child", raw: `<meeting><metadata><a/><b x="1" /></metadata></meeting>`,
			fn:   func(k, v string) (string, bool) { return k + "!", true },
			want: `<meeting><metadata><a>a!</a><b>b!</b></metadata></meeting>`},
		{name: "empty_child", raw: `<meeting><metadata><a></a></metadata></meeting>`,
			fn:   func(k, v string) (string, bool) { return "v", true },
			want: `<meeting><metadata><a>v</a></metadata></meeting>`},
		{name: "attributes_kept", raw: `<recording><metadata><a lang="de">alt</a></metadata></recording>`,
			fn:   func(k, v string) (string, bool) { return "neu", true },
			want: `<recording><metadata><a lang="de">neu</a></metadata></recording>`},
		{name: "to_empty", raw: `<meeting><metadata><a>x</a><b>y</b></metadata></meeting>`,
			fn:   func(k, v string) (string, bool) { return "", k == "b" },
			want: `<meeting><metadata><a>x</a><b></b></metadata></meeting>`},
		{name: "complex_child_untouched", raw: `<meeting><metadata><a><b>x</b></a><c>y</c></metadata></meeting>`,
			fn:   func(k, v string) (string, bool) { return "z", true },
			want: `<meeting><metadata><a><b>x</b></a><c>z</c></metadata></meeting>`},
		{name: "only_metadata_children", raw: `<meeting><meetingID>x</meetingID><customdata><a>x</a></customdata><metadata><a>x</a></metadata><a>x</a></meeting>`,
			fn:   func(k, v string) (string, bool) { return "z", true },
			want: `<meeting><meetingID>x</meetingID><customdata><a>x</a></customdata><metadata><a>z</a></metadata><a>x</a></meeting>`},
		{name: "whole_answer_every_meeting", raw: `<response><returncode>SUCCESS</returncode><meetings><meeting><metadata><u>1</u></metadata></meeting><meeting><metadata/></meeting><meeting><metadata><u>2</u></metadata></meeting></meetings></response>`,
			fn:   func(k, v string) (string, bool) { return v + v, true },
			want: `<response><returncode>SUCCESS</returncode><meetings><meeting><metadata><u>11</u></metadata></meeting><meeting><metadata/></meeting><meeting><metadata><u>22</u></metadata></meeting></meetings></response>`},
		{name: "invalid_chars_replaced", raw: `<m><metadata><a>x</a></metadata></m>`,
			fn:   func(k, v string) (string, bool) { return "a\x01b\xffc\rd", true },
			want: "<m><metadata><a>a\uFFFDb\uFFFDc&#xD;d</a></metadata></m>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bbb.RewriteMetadata([]byte(tt.raw), tt.fn)
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if err := wellFormed(got); err != nil {
				t.Errorf("result not well-formed: %v", err)
			}
		})
	}
}

func TestRewriteMetadata_Unchanged(t *testing.T) {
	room1 := readTestdata(t, "getmeetings_a.xml")
	tests := []struct {
		name string
		raw  []byte
		fn   func(k, v string) (string, bool)
	}{
		{name: "no_metadata", raw: []byte("<meeting><meetingID>x</meetingID></meeting>"), fn: relayToOrigin},
		{name: "fn_declines", raw: room1, fn: func(k, v string) (string, bool) { return "x", false }},
		{name: "same_value", raw: room1, fn: func(k, v string) (string, bool) { return v, true }},
		{name: "malformed", raw: []byte("<meeting><metadata><endcallbackurl>https://lb.example.net/callbacks/x</endcallbackurl>"), fn: relayToOrigin},
		{name: "mismatched", raw: []byte("<meeting><metadata><a>https://lb.example.net/callbacks/x</b></metadata></meeting>"), fn: relayToOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bbb.RewriteMetadata(tt.raw, tt.fn)
			if len(got) != len(tt.raw) || (len(got) > 0 && &got[0] != &tt.raw[0]) {
				t.Errorf("got a new slice %q, want raw itself", got)
			}
		})
	}
}

func TestRewriteMetadata_Calls(t *testing.T) {
	var keys, values []string
	raw := readTestdata(t, "getmeetinginfo.xml")
	bbb.RewriteMetadata(raw, func(k, v string) (string, bool) {
		keys, values = append(keys, k), append(values, v)
		return "", false
	})
	if want := []string{"bbb-origin", "bbb-context-name", "endcallbackurl"}; !slices.Equal(keys, want) {
		t.Errorf("keys: got %v, want %v", keys, want)
	}
	if want := []string{"Moodle", "Physics <Year 1>", "https://lb.example.net/callbacks/end/tok-physics"}; !slices.Equal(values, want) {
		t.Errorf("values: got %v, want %v", values, want)
	}
}

func TestRewriteMetadata_ParsesBack(t *testing.T) {
	body := readTestdata(t, "getmeetings_b.xml")
	got := bbb.RewriteMetadata(body, relayToOrigin)
	ms, err := bbb.ParseMeetings(got)
	if err != nil {
		t.Fatalf("parse rewritten answer: %v", err)
	}
	if v, want := ms[0].Metadata["bn-recording-ready-url"], "https://client.example.com/hook?from=bn-recording-ready-url&v=1"; v != want {
		t.Errorf("got %q, want %q", v, want)
	}
	if !bytes.HasPrefix(got, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		t.Errorf("declaration lost")
	}
}

func TestRewriteMetadata_Allocs(t *testing.T) {
	raw := []byte("<meeting><meetingID>x</meetingID><running>true</running></meeting>")
	if n := testing.AllocsPerRun(100, func() { bbb.RewriteMetadata(raw, relayToOrigin) }); n != 0 {
		t.Errorf("without metadata: got %v allocations, want 0", n)
	}
}
