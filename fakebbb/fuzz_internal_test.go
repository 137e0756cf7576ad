package fakebbb

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzVerifyChecksum checks that checksum verification never panics and
// that a query signed the way clients sign it (checksum appended last)
// always verifies, whatever its bytes.
func FuzzVerifyChecksum(f *testing.F) {
	f.Add("create", vecQuery, vecSecret, 0)
	f.Add("getMeetings", "", "secret", 1)
	f.Add("join", "fullName=A%20B&meetingID=x;y&password=", "s", 2)
	f.Add("create", "checksum=&checksum=x&&=", "s", 3)
	f.Add("hooks/create", "callbackURL=http%3A%2F%2Fa%2F%3Fchecksum%3D1", "s", 0)
	algs := []string{SHA1, SHA256, SHA384, SHA512}
	f.Fuzz(func(t *testing.T, call, query, secret string, alg int) {
		a := algs[(alg%4+4)%4]
		req := checksumRequest{call: call, rawQuery: query, all: parseParams(query)}
		_ = verifyChecksum(secret, nil, req)
		_ = verifyWebhooksChecksum(secret, nil, call, "/bigbluebutton/api/"+call+"?"+query, req.all)

		// A query without any "checksum" text, signed as clients do.
		if strings.Contains(query, "checksum") || secret == "" {
			return
		}
		sum := hexDigest(a, call, query, secret)
		signed := sum
		if query != "" {
			signed = query + "&checksum=" + sum
		} else {
			signed = "checksum=" + sum
		}
		req = checksumRequest{call: call, rawQuery: signed, all: parseParams(signed)}
		if _, ok := req.all.lookup("checksum"); ok && req.all.get("checksum") == sum && !verifyChecksum(secret, nil, req) {
			t.Errorf("signed query %q does not verify", signed)
		}
	})
}

// FuzzParseParams checks that parsing never panics, never drops a
// non-empty pair and that the XML escaper always yields valid UTF-8.
func FuzzParseParams(f *testing.F) {
	f.Add("a=1&b=2")
	f.Add("name=Test+Meeting&meetingID=abc%2C123")
	f.Add("%zz=%&=&;&meta_X-y=1")
	f.Add("userdata-bbb_x=1&userdata-a-b=2")
	f.Fuzz(func(t *testing.T, raw string) {
		p := parseParams(raw)
		nonEmpty := 0
		for _, part := range strings.Split(raw, "&") {
			if part != "" {
				nonEmpty++
			}
		}
		if len(p) != nonEmpty {
			t.Errorf("got %d pairs, want %d", len(p), nonEmpty)
		}
		_ = p.meta()
		_ = p.userdata()
		for _, q := range p {
			if b := appendEscaped(nil, q.value); !utf8.Valid(b) {
				t.Errorf("escaped %q is not UTF-8", q.value)
			}
		}
		_ = webhooksQuery(raw)
	})
}
