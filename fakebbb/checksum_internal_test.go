package fakebbb

import (
	"strings"
	"testing"
)

// The worked example of the BBB API docs (spec §2.1).
const (
	vecSecret = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
	vecQuery  = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
	vecSHA1   = "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
	vecSHA256 = "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e"
	vecSHA384 = "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d6e7b49a845cf29f5c6019c7d29d029d1"
	vecSHA512 = "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4b120f92c0a8a58d7512cb77821884951a3b01245f3435dbbef49fff3cc3988b4"
)

func TestHexDigest_SpecVectors(t *testing.T) {
	tests := []struct {
		alg, want string
	}{
		{SHA1, vecSHA1},
		{SHA256, vecSHA256},
		{SHA384, vecSHA384},
		{SHA512, vecSHA512},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			if got := hexDigest(tt.alg, "create", vecQuery, vecSecret); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if got := algorithmForLength(len(tt.want)); got != tt.alg {
				t.Errorf("algorithm for length %d: got %q, want %q", len(tt.want), got, tt.alg)
			}
		})
	}
}

func TestVerifyChecksum(t *testing.T) {
	check := func(query string) checksumRequest {
		return checksumRequest{call: "create", rawQuery: query, all: parseParams(query)}
	}
	// sum for the same parameters in another order / encoding.
	sumFor := func(alg, call, q string) string { return hexDigest(alg, call, q, vecSecret) }
	pctQuery := "name=Test%20Meeting&meetingID=abc123"
	tests := []struct {
		name    string
		secret  string
		allowed []string
		req     checksumRequest
		want    bool
	}{
		{"sha1_last", vecSecret, nil, check(vecQuery + "&checksum=" + vecSHA1), true},
		{"sha256_last", vecSecret, nil, check(vecQuery + "&checksum=" + vecSHA256), true},
		{"sha384_last", vecSecret, nil, check(vecQuery + "&checksum=" + vecSHA384), true},
		{"sha512_last", vecSecret, nil, check(vecQuery + "&checksum=" + vecSHA512), true},
		{"checksum_first", vecSecret, nil, check("checksum=" + vecSHA1 + "&" + vecQuery), true},
		{"checksum_middle", vecSecret, nil, check("name=Test+Meeting&meetingID=abc123&checksum=" + vecSHA1 + "&attendeePW=111222&moderatorPW=333444"), true},
		{"upper_case_hex", vecSecret, nil, check(vecQuery + "&checksum=" + strings.ToUpper(vecSHA1)), true},
		{"percent20_signed_as_sent", vecSecret, nil, check(pctQuery + "&checksum=" + sumFor(SHA1, "create", pctQuery)), true},
		{"percent20_signed_as_plus", vecSecret, nil, check(pctQuery + "&checksum=" + sumFor(SHA1, "create", "name=Test+Meeting&meetingID=abc123")), false},
		{"plus_signed_as_percent20", vecSecret, nil, check("name=Test+Meeting&meetingID=abc123&checksum=" + sumFor(SHA1, "create", pctQuery)), false},
		{"reordered", vecSecret, nil, check("meetingID=abc123&name=Test+Meeting&attendeePW=111222&moderatorPW=333444&checksum=" + vecSHA1), false},
		{"wrong_call", vecSecret, nil, checksumRequest{call: "join", rawQuery: vecQuery + "&checksum=" + vecSHA1, all: parseParams(vecQuery + "&checksum=" + vecSHA1)}, false},
		{"wrong_secret", "other", nil, check(vecQuery + "&checksum=" + vecSHA1), false},
		{"missing", vecSecret, nil, check(vecQuery), false},
		{"empty_value", vecSecret, nil, check(vecQuery + "&checksum="), false},
		{"wrong_length", vecSecret, nil, check(vecQuery + "&checksum=" + vecSHA1[:39]), false},
		{"sha1_disabled", vecSecret, []string{SHA256, SHA512}, check(vecQuery + "&checksum=" + vecSHA1), false},
		{"sha384_disabled", vecSecret, []string{SHA1, SHA256, SHA512}, check(vecQuery + "&checksum=" + vecSHA384), false},
		{"sha256_enabled", vecSecret, []string{"SHA256"}, check(vecQuery + "&checksum=" + vecSHA256), true},
		{"empty_secret_disables", "", nil, check(vecQuery + "&checksum=junk"), true},
		{"first_of_two_checksums", vecSecret, nil, check(vecQuery + "&checksum=" + vecSHA1 + "&checksum=" + vecSHA256), false},
		{
			"empty_query_get_meetings", vecSecret, nil,
			checksumRequest{call: "getMeetings", rawQuery: "checksum=" + sumFor(SHA256, "getMeetings", ""), all: parseParams("checksum=" + sumFor(SHA256, "getMeetings", ""))},
			true,
		},
		{
			"form_body_only_empty_string", vecSecret, nil,
			checksumRequest{call: "create", all: parseParams(vecQuery + "&checksum=" + sumFor(SHA1, "create", "")), form: parseParams(vecQuery + "&checksum=" + sumFor(SHA1, "create", ""))},
			true,
		},
		{
			"form_body_only_sorted_rebuild", vecSecret, nil,
			checksumRequest{
				call: "create",
				all:  parseParams(vecQuery + "&checksum=" + sumFor(SHA1, "create", "attendeePW=111222&meetingID=abc123&moderatorPW=333444&name=Test+Meeting")),
				form: parseParams(vecQuery + "&checksum=" + sumFor(SHA1, "create", "attendeePW=111222&meetingID=abc123&moderatorPW=333444&name=Test+Meeting")),
			},
			true,
		},
		// bbb-web's rebuild writes names unencoded and every value of a
		// repeated name, names in Java (UTF-16) order.
		{
			"form_body_only_repeated_name_all_values", vecSecret, nil,
			checksumRequest{
				call: "create",
				all:  parseParams("meetingID=abc&meta_tag=1&meta_tag=2&checksum=" + sumFor(SHA1, "create", "meetingID=abc&meta_tag=1&meta_tag=2")),
				form: parseParams("meetingID=abc&meta_tag=1&meta_tag=2&checksum=" + sumFor(SHA1, "create", "meetingID=abc&meta_tag=1&meta_tag=2")),
			},
			true,
		},
		{
			"form_body_only_name_not_encoded", vecSecret, nil,
			checksumRequest{
				call: "create",
				all:  parseParams("meetingID=abc&userdata-x%3Ay=1&checksum=" + sumFor(SHA1, "create", "meetingID=abc&userdata-x:y=1")),
				form: parseParams("meetingID=abc&userdata-x%3Ay=1&checksum=" + sumFor(SHA1, "create", "meetingID=abc&userdata-x:y=1")),
			},
			true,
		},
		{
			"form_body_only_names_in_utf16_order", vecSecret, nil,
			checksumRequest{
				call: "create",
				all:  parseParams("%EF%BC%81=a&%F0%9F%98%80=b&checksum=" + sumFor(SHA1, "create", "\U0001F600=b&\uFF01=a")),
				form: parseParams("%EF%BC%81=a&%F0%9F%98%80=b&checksum=" + sumFor(SHA1, "create", "\U0001F600=b&\uFF01=a")),
			},
			true,
		},
		{
			"form_body_with_query_needs_query_sum", vecSecret, nil,
			checksumRequest{call: "create", rawQuery: "meetingID=abc123", all: parseParams("meetingID=abc123&checksum=" + sumFor(SHA1, "create", "")), form: parseParams("checksum=" + sumFor(SHA1, "create", ""))},
			false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifyChecksum(tt.secret, tt.allowed, tt.req); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStripChecksum(t *testing.T) {
	tests := []struct {
		name, raw, sum, want string
	}{
		{"last", "a=1&checksum=X", "X", "a=1"},
		{"first", "checksum=X&a=1", "X", "a=1"},
		{"middle", "a=1&checksum=X&b=2", "X", "a=1&b=2"},
		{"only", "checksum=X", "X", ""},
		{"other_value_kept", "a=1&checksum=Y", "X", "a=1&checksum=Y"},
		{"every_copy_removed", "checksum=X&a=1&checksum=X", "X", "a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stripChecksum(tt.raw, tt.sum); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWebhooksQuery(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"last", "/bigbluebutton/api/hooks/create?callbackURL=x&checksum=abc", "callbackURL=x"},
		{"first", "/bigbluebutton/api/hooks/create?checksum=abc&callbackURL=x", "callbackURL=x"},
		{"middle", "/bigbluebutton/api/hooks/create?a=1&checksum=abc&b=2", "a=1&b=2"},
		{"only", "/bigbluebutton/api/hooks/list?checksum=abc", ""},
		{"no_query", "/bigbluebutton/api/hooks/list", ""},
		{"empty_value", "/bigbluebutton/api/hooks/list?checksum=", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhooksQuery(tt.url); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVerifyWebhooksChecksum(t *testing.T) {
	const secret = "s3cr3t"
	q := "callbackURL=http%3A%2F%2Fexample.org%2Fcb&meetingID=m1"
	sum := hexDigest(SHA1, "hooks/create", q, secret)
	tests := []struct {
		name    string
		url     string
		allowed []string
		want    bool
	}{
		{"lower_case", "/bigbluebutton/api/hooks/create?" + q + "&checksum=" + sum, nil, true},
		{"first", "/bigbluebutton/api/hooks/create?checksum=" + sum + "&" + q, nil, true},
		{"upper_case_rejected", "/bigbluebutton/api/hooks/create?" + q + "&checksum=" + strings.ToUpper(sum), nil, false},
		{"disabled_algorithm", "/bigbluebutton/api/hooks/create?" + q + "&checksum=" + sum, []string{SHA256}, false},
		{"two_checksums", "/bigbluebutton/api/hooks/create?" + q + "&checksum=" + sum + "&checksum=" + sum, nil, false},
		{"missing", "/bigbluebutton/api/hooks/create?" + q, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, query, _ := strings.Cut(tt.url, "?")
			if got := verifyWebhooksChecksum(secret, tt.allowed, "hooks/create", tt.url, parseParams(query)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		name, raw string
		want      params
	}{
		{"empty", "", nil},
		{"plus_is_space", "name=Test+Meeting", params{{"name", "Test Meeting"}}},
		{"percent", "name=Test%20Meeting", params{{"name", "Test Meeting"}}},
		{"semicolon_kept", "a=1;b=2", params{{"a", "1;b=2"}}},
		{"bad_escape_kept_raw", "a=%zz", params{{"a", "%zz"}}},
		{"empty_pairs_skipped", "&&a=1&", params{{"a", "1"}}},
		{"no_value", "a", params{{"a", ""}}},
		{"duplicates_kept", "a=1&a=2", params{{"a", "1"}, {"a", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseParams(tt.raw)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("pair %d: got %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestMetaKey(t *testing.T) {
	tests := []struct {
		name, param, want string
		ok                bool
	}{
		{"lower_cased", "meta_endCallbackUrl", "endcallbackurl", true},
		{"hyphens", "meta_bbb-recording-ready-url", "bbb-recording-ready-url", true},
		{"underscore_rejected", "meta_bbb_origin", "", false},
		{"digit_first_rejected", "meta_1x", "", false},
		{"empty_rejected", "meta_", "", false},
		{"not_meta", "name", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := metaKey(tt.param)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
