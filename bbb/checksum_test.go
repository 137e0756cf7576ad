package bbb_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// The docs' test vector (spec §2.1).
const (
	vecSecret = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
	vecCall   = "create"
	vecQuery  = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
	vecSHA1   = "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
	vecSHA256 = "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e"
	vecSHA384 = "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d6e7b49a845cf29f5c6019c7d29d029d1"
	vecSHA512 = "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4b120f92c0a8a58d7512cb77821884951a3b01245f3435dbbef49fff3cc3988b4"
)

func TestChecksum_SpecVector(t *testing.T) {
	tests := []struct {
		alg, want string
	}{
		{alg: bbb.SHA1, want: vecSHA1},
		{alg: bbb.SHA256, want: vecSHA256},
		{alg: bbb.SHA384, want: vecSHA384},
		{alg: bbb.SHA512, want: vecSHA512},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			if got := bbb.Checksum(tt.alg, vecCall, vecQuery, vecSecret); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if got := bbb.AlgorithmForLength(len(tt.want)); got != tt.alg {
				t.Errorf("AlgorithmForLength(%d): got %q, want %q", len(tt.want), got, tt.alg)
			}
			if got := bbb.HexLen(tt.alg); got != len(tt.want) {
				t.Errorf("HexLen: got %d, want %d", got, len(tt.want))
			}
			if !bbb.ValidAlgorithm(tt.alg) {
				t.Errorf("ValidAlgorithm: got false, want true")
			}
		})
	}
}

func TestAlgorithms_Invalid(t *testing.T) {
	for _, name := range []string{"", "md5", "SHA1", "sha224"} {
		t.Run("name_"+name, func(t *testing.T) {
			if name == "" {
			}
			if bbb.ValidAlgorithm(name) || bbb.HexLen(name) != 0 {
				t.Errorf("got valid (HexLen %d), want invalid", bbb.HexLen(name))
			}
		})
	}
	for _, n := range []int{0, 39, 41, 63, 65, 127, 129} {
		if got := bbb.AlgorithmForLength(n); got != "" {
			t.Errorf("AlgorithmForLength(%d): got %q, want \"\"", n, got)
		}
	}
}

func TestStripChecksum(t *testing.T) {
	tests := []struct {
		name, raw, wantRest, wantSum string
	}{
		{name: "last", raw: "a=1&b=2&checksum=abc", wantRest: "a=1&b=2", wantSum: "abc"},
		{name: "first", raw: "checksum=abc&a=1&b=2", wantRest: "a=1&b=2", wantSum: "abc"},
		{name: "middle", raw: "a=1&checksum=abc&b=2", wantRest: "a=1&b=2", wantSum: "abc"},
		{name: "only", raw: "checksum=abc", wantRest: "", wantSum: "abc"},
		{name: "none", raw: "a=1&b=2", wantRest: "a=1&b=2", wantSum: ""},
		{name: "empty", raw: "", wantRest: "", wantSum: ""},
		{name: "repeated_first_wins", raw: "a=1&checksum=abc&checksum=def", wantRest: "a=1&checksum=def", wantSum: "abc"},
		{name: "same_value_twice_both_cut", raw: "checksum=abc&a=1&checksum=abc", wantRest: "a=1", wantSum: "abc"},
		{name: "encoding_kept", raw: "n=a%20b+c&checksum=abc&m=%7e", wantRest: "n=a%20b+c&m=%7e", wantSum: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rest, sum := bbb.StripChecksum(tt.raw)
			if rest != tt.wantRest || sum != tt.wantSum {
				t.Errorf("got (%q, %q), want (%q, %q)", rest, sum, tt.wantRest, tt.wantSum)
			}
		})
	}
}

func TestVerifier_VerifyQuery(t *testing.T) {
	all := bbb.Verifier{Secret: vecSecret}
	sha256Only := bbb.Verifier{Secret: vecSecret, Algorithms: []string{bbb.SHA256}}
	// A client that sends a second checksum must have hashed it: bbb-web
	// removes only the first checksum's value from the query.
	twice := "name=x&checksum=junk"
	twiceSum := bbb.Checksum(bbb.SHA1, vecCall, twice, vecSecret)
	tests := []struct {
		name  string
		v     bbb.Verifier
		call  string
		query string
		want  error
	}{
		{name: "sha1_last", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA1},
		{name: "sha256_last", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA256},
		{name: "sha384_last", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA384},
		{name: "sha512_last", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA512},
		{name: "first", v: all, call: vecCall, query: "checksum=" + vecSHA1 + "&" + vecQuery},
		{name: "middle", v: all, call: vecCall, query: "name=Test+Meeting&meetingID=abc123&checksum=" + vecSHA1 + "&attendeePW=111222&moderatorPW=333444"},
		{name: "upper_case_hex", v: all, call: vecCall, query: vecQuery + "&checksum=" + strings.ToUpper(vecSHA256)},
		{name: "repeated_first_wins", v: all, call: vecCall, query: "checksum=" + twiceSum + "&" + twice},
		{name: "repeated_second_valid_fails", v: all, call: vecCall, query: vecQuery + "&checksum=" + strings.Repeat("0", 40) + "&checksum=" + vecSHA1, want: bbb.ErrChecksumInvalid},
		{name: "repeated_first_valid_second_unhashed_fails", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA1 + "&checksum=abc", want: bbb.ErrChecksumInvalid},
		{name: "wrong_call", v: all, call: "join", query: vecQuery + "&checksum=" + vecSHA1, want: bbb.ErrChecksumInvalid},
		{name: "wrong_secret", v: bbb.Verifier{Secret: "other"}, call: vecCall, query: vecQuery + "&checksum=" + vecSHA1, want: bbb.ErrChecksumInvalid},
		{name: "short", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA1[:39], want: bbb.ErrChecksumInvalid},
		{name: "long", v: all, call: vecCall, query: vecQuery + "&checksum=" + vecSHA1 + "0", want: bbb.ErrChecksumInvalid},
		{name: "non_hex", v: all, call: vecCall, query: vecQuery + "&checksum=" + strings.Repeat("z", 40), want: bbb.ErrChecksumInvalid},
		{name: "disabled_algorithm", v: sha256Only, call: vecCall, query: vecQuery + "&checksum=" + vecSHA1, want: bbb.ErrChecksumInvalid},
		{name: "enabled_algorithm", v: sha256Only, call: vecCall, query: vecQuery + "&checksum=" + vecSHA256},
		{name: "missing", v: all, call: vecCall, query: vecQuery, want: bbb.ErrChecksumMissing},
		{name: "empty_value", v: all, call: vecCall, query: vecQuery + "&checksum=", want: bbb.ErrChecksumMissing},
		{name: "empty_query_missing", v: all, call: "getMeetings", query: "", want: bbb.ErrChecksumMissing},
		{name: "empty_query", v: all, call: "getMeetings", query: "checksum=" + bbb.Checksum(bbb.SHA1, "getMeetings", "", vecSecret)},
		{name: "hooks_call_name", v: all, call: "hooks/list", query: "checksum=" + bbb.Checksum(bbb.SHA256, "hooks/list", "", vecSecret)},
		{name: "security_disabled", v: bbb.Verifier{}, call: vecCall, query: "anything"},
		{name: "plus_signed_as_plus", v: all, call: vecCall, query: "name=A+B&checksum=" + bbb.Checksum(bbb.SHA1, vecCall, "name=A+B", vecSecret)},
		{name: "space_signed_as_percent20", v: all, call: vecCall, query: "name=A%20B&checksum=" + bbb.Checksum(bbb.SHA1, vecCall, "name=A%20B", vecSecret)},
		{name: "plus_signed_percent20_sent", v: all, call: vecCall, query: "name=A%20B&checksum=" + bbb.Checksum(bbb.SHA1, vecCall, "name=A+B", vecSecret), want: bbb.ErrChecksumInvalid},
		{name: "lower_case_escape_kept", v: all, call: vecCall, query: "u=%2fx&checksum=" + bbb.Checksum(bbb.SHA256, vecCall, "u=%2fx", vecSecret)},
		{name: "upper_case_escape_differs", v: all, call: vecCall, query: "u=%2Fx&checksum=" + bbb.Checksum(bbb.SHA256, vecCall, "u=%2fx", vecSecret), want: bbb.ErrChecksumInvalid},
		{name: "semicolon", v: all, call: vecCall, query: "a=1;b=2&checksum=" + bbb.Checksum(bbb.SHA256, vecCall, "a=1;b=2", vecSecret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.v.VerifyQuery(tt.call, tt.query); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSign(t *testing.T) {
	queries := []struct{ name, q string }{
		{name: "empty", q: ""},
		{name: "spec_vector", q: vecQuery},
		{name: "odd_encoding", q: "a=%20&b=+&c"},
	}
	for _, alg := range bbb.AllAlgorithms {
		for _, qq := range queries {
			q := qq.q
			t.Run(alg+"_"+qq.name, func(t *testing.T) {
				signed := bbb.Sign(alg, vecCall, q, vecSecret)
				wantPrefix := q + "&checksum="
				if q == "" {
					wantPrefix = "checksum="
				}
				if !strings.HasPrefix(signed, wantPrefix) || len(signed) != len(wantPrefix)+bbb.HexLen(alg) {
					t.Errorf("got %q, want %q + %d hex digits", signed, wantPrefix, bbb.HexLen(alg))
				}
				if err := (bbb.Verifier{Secret: vecSecret}).VerifyQuery(vecCall, signed); err != nil {
					t.Errorf("verify signed query: got %v, want nil", err)
				}
			})
		}
	}
	if got := bbb.Sign(bbb.SHA1, vecCall, vecQuery, vecSecret); got != vecQuery+"&checksum="+vecSHA1 {
		t.Errorf("spec vector: got %s, want the §2.1 URL's query", got)
	}
}

// formRequest builds a Request for a body-only form POST.
func formRequest(tb testing.TB, call, rawQuery, form string) *bbb.Request {
	tb.Helper()
	target := "/bigbluebutton/api/" + call
	if rawQuery != "" {
		target += "?" + rawQuery
	}
	hr := httptest.NewRequest("POST", target, strings.NewReader(form))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := bbb.ReadRequest(hr, 0)
	if err != nil {
		tb.Fatalf("read request: %v", err)
	}
	return r
}

func TestVerifier_Verify(t *testing.T) {
	v := bbb.Verifier{Secret: vecSecret}
	empty := bbb.Checksum(bbb.SHA256, "create", "", vecSecret)
	// bbb-web 2.5–2.7 rebuild: names sorted, values encoded like Java's
	// URLEncoder ("*" kept, "~" and " " escaped), joined with '&'.
	rebuilt := "attendeePW=a*b%7Ec&meetingID=abc+123&name=Test+Meeting"
	rebuiltSum := bbb.Checksum(bbb.SHA1, "create", rebuilt, vecSecret)
	tests := []struct {
		name     string
		call     string
		rawQuery string
		form     string
		want     error
	}{
		{name: "body_only_hash_of_empty_query", call: "create", form: "name=Test+Meeting&meetingID=abc123&checksum=" + empty},
		{name: "body_only_checksum_first", call: "create", form: "checksum=" + empty + "&meetingID=abc123"},
		{name: "body_only_sorted_rebuild", call: "create", form: "name=Test%20Meeting&meetingID=abc+123&attendeePW=a%2Ab~c&checksum=" + rebuiltSum},
		{name: "body_only_wrong", call: "create", form: "meetingID=abc123&checksum=" + strings.Repeat("1", 64), want: bbb.ErrChecksumInvalid},
		{name: "body_only_missing", call: "create", form: "meetingID=abc123", want: bbb.ErrChecksumMissing},
		{name: "checksum_in_query_params_in_body", call: "create", rawQuery: "checksum=" + empty, form: "meetingID=abc123"},
		{name: "query_and_body_query_rules", call: "create", rawQuery: vecQuery + "&checksum=" + vecSHA1, form: "extra=1"},
		{name: "query_and_body_body_not_hashed", call: "create", rawQuery: "meetingID=abc123&checksum=" + bbb.Checksum(bbb.SHA1, "create", "meetingID=abc123&extra=1", vecSecret), form: "extra=1", want: bbb.ErrChecksumInvalid},
		{name: "get_is_query_only", call: "getMeetings", rawQuery: "checksum=" + bbb.Checksum(bbb.SHA1, "getMeetings", "", vecSecret)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *bbb.Request
			if tt.form == "" {
				hr := httptest.NewRequest("GET", "/bigbluebutton/api/"+tt.call+"?"+tt.rawQuery, nil)
				var err error
				if r, err = bbb.ReadRequest(hr, 0); err != nil {
					t.Fatal(err)
				}
			} else {
				r = formRequest(t, tt.call, tt.rawQuery, tt.form)
			}
			if err := v.Verify(r); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifier_Verify_RebuildKnownBugs covers where Verifier.Verify's 2.5–2.7
// rebuild (rebuildSorted in checksum.go) once differed from bbb-web's
// ValidationService.buildQueryStringFromParamsMap, which emits the name
// unencoded and every value of a repeated name, in order, with names in
// Java's (UTF-16) order.
func TestVerifier_Verify_RebuildKnownBugs(t *testing.T) {
	v := bbb.Verifier{Secret: vecSecret}
	tests := []struct {
		name    string
		form    string
		rebuilt string // what bbb-web hashes
	}{
		{name: "repeated_name_all_values", form: "meetingID=abc&meta_tag=1&meta_tag=2", rebuilt: "meetingID=abc&meta_tag=1&meta_tag=2"},
		{name: "name_not_encoded", form: "meetingID=abc&userdata-x%3Ay=1", rebuilt: "meetingID=abc&userdata-x:y=1"},
		// Java's TreeSet orders names by UTF-16 code units: a character
		// above U+FFFF (a surrogate pair) sorts before U+FF01.
		{name: "names_in_utf16_order", form: "%EF%BC%81=a&%F0%9F%98%80=b", rebuilt: "\U0001F600=b&\uFF01=a"},
		{name: "names_sharing_a_high_surrogate", form: "%F0%9F%98%81=a&%F0%9F%98%80=b&meetingID=x", rebuilt: "meetingID=x&\U0001F600=b&\U0001F601=a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := bbb.Checksum(bbb.SHA256, "create", tt.rebuilt, vecSecret)
			r := formRequest(t, "create", "", tt.form+"&checksum="+sum)
			if err := v.Verify(r); err != nil {
				t.Errorf("got %v, want nil (bbb-web accepts this request)", err)
			}
		})
	}
}

// TestVerifier_Verify_ChecksumInBodyKnownBug: bbb-web takes the checksum
// from the merged parameters (query and form) but hashes the raw query, so
// it accepts params in the query with the checksum in a form body.
// Verifier.Verify looks for the checksum only in the query once the query
// is non-empty and answers ErrChecksumMissing.
func TestVerifier_Verify_ChecksumInBodyKnownBug(t *testing.T) {
	sum := bbb.Checksum(bbb.SHA256, "create", "meetingID=abc123", vecSecret)
	r := formRequest(t, "create", "meetingID=abc123", "checksum="+sum)
	if err := (bbb.Verifier{Secret: vecSecret}).Verify(r); err != nil {
		t.Errorf("got %v, want nil (bbb-web accepts this request)", err)
	}
}

// TestStripChecksum_Allocs: stripping the checksum is on every request's
// path (verification, and again for the query forwarded to a server). A
// checksum at the start or end of the query, where every client puts it,
// must leave a substring of the query and cost no allocation.
func TestStripChecksum_Allocs(t *testing.T) {
	tests := []struct {
		name, raw string
		want      float64
	}{
		{name: "last", raw: vecQuery + "&checksum=" + vecSHA1, want: 0},
		{name: "first", raw: "checksum=" + vecSHA1 + "&" + vecQuery, want: 0},
		{name: "only", raw: "checksum=" + vecSHA1, want: 0},
		{name: "none", raw: vecQuery, want: 0},
		{name: "middle", raw: "name=Test+Meeting&checksum=" + vecSHA1 + "&meetingID=abc123", want: 1},
		{name: "both_ends", raw: "checksum=" + vecSHA1 + "&" + vecQuery + "&checksum=" + vecSHA1, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rest string
			got := testing.AllocsPerRun(100, func() { rest, _ = bbb.StripChecksum(tt.raw) })
			if got != tt.want {
				t.Errorf("got %v allocations, want %v", got, tt.want)
			}
			if strings.Contains(rest, "checksum") {
				t.Errorf("rest %q still carries the checksum", rest)
			}
		})
	}
}

// TestVerifier_VerifyBeforeBody: whenever VerifyBeforeBody says it is
// done, its verdict is Verify's on the complete request; it needs the body
// only for a form body without a checksum in the query.
func TestVerifier_VerifyBeforeBody(t *testing.T) {
	v := bbb.Verifier{Secret: vecSecret}
	empty := bbb.Checksum(bbb.SHA256, "create", "", vecSecret)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name      string
		rawQuery  string
		mediaType string
		body      string
		wantDone  bool
		want      error
	}{
		{name: "get_signed", rawQuery: vecQuery + "&checksum=" + vecSHA1, wantDone: true},
		{name: "get_wrong", rawQuery: vecQuery + "&checksum=" + vecSHA256[:40], wantDone: true, want: bbb.ErrChecksumInvalid},
		{name: "get_unsigned", rawQuery: vecQuery, wantDone: true, want: bbb.ErrChecksumMissing},
		{name: "xml_body_signed_query", rawQuery: vecQuery + "&checksum=" + vecSHA1, mediaType: "application/xml", body: "<modules/>", wantDone: true},
		{name: "xml_body_unsigned_query", rawQuery: vecQuery, mediaType: "application/xml", body: "<modules/>", wantDone: true, want: bbb.ErrChecksumMissing},
		{name: "multipart_unsigned", mediaType: "multipart/form-data", body: "--x--", wantDone: true, want: bbb.ErrChecksumMissing},
		{name: "form_signed_query", rawQuery: vecQuery + "&checksum=" + vecSHA1, mediaType: form, body: "extra=1", wantDone: true},
		{name: "form_wrong_query", rawQuery: "checksum=" + empty[:40], mediaType: form, body: "meetingID=abc123", wantDone: true, want: bbb.ErrChecksumInvalid},
		{name: "form_checksum_in_body", mediaType: form, body: "meetingID=abc123&checksum=" + empty},
		{name: "form_unsigned", mediaType: form, body: "meetingID=abc123", want: bbb.ErrChecksumMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, err := v.VerifyBeforeBody("create", tt.rawQuery, tt.mediaType)
			if done != tt.wantDone {
				t.Fatalf("done: got %v, want %v", done, tt.wantDone)
			}
			if !done {
				if err != nil {
					t.Fatalf("not done but error %v", err)
				}
				r := formRequest(t, "create", tt.rawQuery, tt.body)
				err = v.Verify(r)
			}
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}
