package bbb_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", vecQuery, "a=1;b=2&c", "a=%zz&b%=1&&c=100%", "meta_endCallbackUrl=https%3A%2F%2Fx&checksum=abc", "=&=&", "%", "+=+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q := bbb.ParseQuery(raw)
		// Every non-empty '&'-separated part becomes exactly one pair, raw
		// bytes intact.
		var parts []string
		for _, p := range strings.Split(raw, "&") {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(q) != len(parts) {
			t.Fatalf("got %d pairs, want %d", len(q), len(parts))
		}
		for i, p := range q {
			rn, rv, hasEq := strings.Cut(parts[i], "=")
			if p.RawName != rn || p.RawValue != rv {
				t.Fatalf("pair %d: got raw %q=%q, want %q=%q", i, p.RawName, p.RawValue, rn, rv)
			}
			// Encode reproduces each part that had an '='.
			if hasEq && !strings.Contains(q[i:i+1].Encode(), parts[i]) {
				t.Fatalf("pair %d: Encode %q does not reproduce %q", i, q[i:i+1].Encode(), parts[i])
			}
		}
		_ = q.Meta()
		_ = q.Get(bbb.ParamMeetingID)
		if _, err := bbb.RecordingFilterFromQuery(q); err != nil {
			t.Fatalf("RecordingFilterFromQuery: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("create", vecQuery, vecSecret, vecSHA1)
	f.Add("getMeetings", "", "s", "")
	f.Add("hooks/create", "callbackURL=http%3A%2F%2Fx&checksum=1", "s", strings.ToUpper(vecSHA256))
	f.Add("join", "a=1;b&&c=%", "", "zz")
	f.Fuzz(func(t *testing.T, call, query, secret, sum string) {
		// Never panics, whatever the input.
		v := bbb.Verifier{Secret: secret}
		_ = v.VerifyQuery(call, query)
		_ = v.VerifyQuery(call, query+"&checksum="+sum)
		_, _ = bbb.StripChecksum(query)

		// Sign then Verify always succeeds, unless the query already
		// carries a checksum (bbb-web takes the first one).
		if _, has := bbb.ParseQuery(query).Lookup(bbb.ParamChecksum); has || secret == "" {
			return
		}
		for _, alg := range bbb.AllAlgorithms {
			signed := bbb.Sign(alg, call, query, secret)
			if err := v.VerifyQuery(call, signed); err != nil {
				t.Fatalf("%s: Verify(Sign(%q)) = %v, want nil", alg, query, err)
			}
			if err := (bbb.Verifier{Secret: secret + "x"}).VerifyQuery(call, signed); !errors.Is(err, bbb.ErrChecksumInvalid) {
				t.Fatalf("%s: other secret: got %v, want ErrChecksumInvalid", alg, err)
			}
		}
	})
}

// seedXML adds the XML test data files as seeds.
func seedXML(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(readTestdata(f, n))
	}
}

var xmlSeeds = []string{"getmeetings_a.xml", "getmeetings_b.xml", "getmeetings_empty.xml", "checksum_error.xml", "multi_error.xml",
	"getmeetinginfo.xml", "getrecordings_a.xml", "getrecordings_b.xml", "getrecordings_empty.xml", "hooks_list.xml"}

func FuzzParseMeetings(f *testing.F) {
	seedXML(f, xmlSeeds...)
	f.Add([]byte("<response><returncode>SUCCESS</returncode><meetings><meeting/></meetings></response>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ms, err := bbb.ParseMeetings(body)
		_, _, _ = bbb.ParseMeetingInfo(body)
		_, _ = bbb.ParseStatus(body)
		_, _ = bbb.ParseHooks(body)
		_, _, _ = bbb.ParseHookCreate(body)
		if err != nil {
			return
		}
		// The raw elements, merged, parse back to the same meetings.
		raws := make([][]byte, len(ms))
		for i, m := range ms {
			if !bytes.Contains(body, m.Raw) {
				t.Fatalf("meeting %d raw is not part of the body", i)
			}
			raws[i] = m.Raw
		}
		back, err := bbb.ParseMeetings(bbb.MeetingsXML(raws))
		if err != nil {
			t.Fatalf("re-parse merged answer: %v", err)
		}
		if len(back) != len(ms) {
			t.Fatalf("re-parse: got %d meetings, want %d", len(back), len(ms))
		}
		for i := range ms {
			if back[i].InternalID != ms[i].InternalID || back[i].MeetingID != ms[i].MeetingID || !bytes.Equal(back[i].Raw, ms[i].Raw) ||
				!equalMaps(back[i].Metadata, ms[i].Metadata) {
				t.Fatalf("meeting %d: got %+v, want %+v", i, back[i], ms[i])
			}
		}
	})
}

func FuzzMergeMeetings(f *testing.F) {
	a, b := readTestdata(f, "getmeetings_a.xml"), readTestdata(f, "getmeetings_b.xml")
	f.Add(a, b)
	f.Add(readTestdata(f, "getmeetings_empty.xml"), a)
	f.Add(b, readTestdata(f, "checksum_error.xml"))
	f.Fuzz(func(t *testing.T, x, y []byte) {
		merged, err := bbb.MergeMeetings([][]byte{x, y})
		mx, errx := bbb.ParseMeetings(x)
		my, erry := bbb.ParseMeetings(y)
		if (err == nil) != (errx == nil && erry == nil) {
			t.Fatalf("merge error %v, but parse errors %v, %v", err, errx, erry)
		}
		if err != nil {
			return
		}
		back, err := bbb.ParseMeetings(merged)
		if err != nil {
			t.Fatalf("merged answer does not parse: %v", err)
		}
		if len(back) != len(mx)+len(my) {
			t.Fatalf("got %d meetings, want %d + %d", len(back), len(mx), len(my))
		}
		if len(back) == 0 && !bytes.Contains(merged, []byte("<messageKey>noMeetings</messageKey>")) {
			t.Fatalf("empty merge is not BBB's noMeetings answer: %s", merged)
		}
	})
}

func FuzzParseRecordings(f *testing.F) {
	seedXML(f, xmlSeeds...)
	f.Fuzz(func(t *testing.T, body []byte) {
		rs, err := bbb.ParseRecordings(body)
		if err != nil {
			return
		}
		for _, q := range []string{"", "limit=1", "state=any&limit=2&offset=1", "meta_bbb-origin=%25o%25"} {
			f, _ := bbb.RecordingFilterFromQuery(bbb.ParseQuery(q))
			page, total := bbb.ApplyRecordings(rs, f)
			if total > len(rs) || len(page) > total {
				t.Fatalf("%s: got page %d of %d from %d recordings", q, len(page), total, len(rs))
			}
			out := bbb.RecordingsXML(page, total, f.Paged())
			back, err := bbb.ParseRecordings(out)
			if err != nil {
				t.Fatalf("%s: built answer does not parse: %v", q, err)
			}
			if len(back) != len(page) {
				t.Fatalf("%s: got %d recordings back, want %d", q, len(back), len(page))
			}
			for i := range page {
				if back[i].RecordID != page[i].RecordID || !bytes.Equal(back[i].Raw, page[i].Raw) {
					t.Fatalf("%s: recording %d changed", q, i)
				}
			}
		}
	})
}

func FuzzRewriteMetadata(f *testing.F) {
	for _, n := range []string{"getmeetings_a.xml", "getmeetings_b.xml", "getmeetinginfo.xml", "getrecordings_a.xml"} {
		f.Add(readTestdata(f, n), "https://client.example.com/x?a=1&b=2")
	}
	f.Add([]byte("<m><metadata><a/><b></b><c><![CDATA[x]]></c><d><e/></d></metadata></m>"), "v&<\x01\r\xff")
	f.Fuzz(func(t *testing.T, raw []byte, nv string) {
		// The identity rewrite returns raw itself.
		if got := bbb.RewriteMetadata(raw, func(_, v string) (string, bool) { return v, true }); !sameSlice(got, raw) {
			t.Fatalf("identity rewrite returned a new slice")
		}
		got := bbb.RewriteMetadata(raw, func(_, v string) (string, bool) { return nv, true })
		if sameSlice(got, raw) || wellFormed(raw) != nil {
			return // unchanged, or input outside the promise
		}
		// A changed answer is still well-formed, and every metadata value
		// reads back as nv (with characters XML cannot carry replaced).
		if err := wellFormed(got); err != nil {
			t.Fatalf("rewritten XML not well-formed: %v\n%s", err, got)
		}
		want := xmlText(nv)
		again := bbb.RewriteMetadata(got, func(k, v string) (string, bool) {
			if v != want {
				t.Fatalf("key %s: got %q, want %q", k, v, want)
			}
			return v, true
		})
		if !sameSlice(again, got) {
			t.Fatalf("second identity rewrite returned a new slice")
		}
	})
}

// xmlText is s as it reads back from XML after escaping: every invalid
// byte and every character outside XML's Char production is U+FFFD.
func xmlText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == 0x09 || r == 0x0A || r == 0x0D, r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			b.WriteRune(r)
		default:
			b.WriteRune('\uFFFD')
		}
	}
	return b.String()
}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// FuzzStripChecksum checks StripChecksum against bbb-web's literal
// definition: take the first checksum value, then replace every
// "&checksum=V", then every "checksum=V&", then every "checksum=V" with
// nothing (Java's String.replace, like strings.ReplaceAll).
func FuzzStripChecksum(f *testing.F) {
	f.Add(vecQuery + "&checksum=" + vecSHA1)
	f.Add("checksum=abc&a=1&checksum=abc&checksum=abcd&xchecksum=abc")
	f.Add("a=1&checksum=&b=checksum=")
	f.Add("%63hecksum=abc&checksum=abc&checksum=abc&")
	f.Fuzz(func(t *testing.T, raw string) {
		rest, sum := bbb.StripChecksum(raw)
		want, wantSum := raw, ""
		if v, ok := bbb.ParseQuery(raw).Lookup(bbb.ParamChecksum); ok {
			wantSum = v
			want = strings.ReplaceAll(want, "&checksum="+v, "")
			want = strings.ReplaceAll(want, "checksum="+v+"&", "")
			want = strings.ReplaceAll(want, "checksum="+v, "")
		}
		if rest != want || sum != wantSum {
			t.Fatalf("StripChecksum(%q) = (%q, %q), want (%q, %q)", raw, rest, sum, want, wantSum)
		}
	})
}
