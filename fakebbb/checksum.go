package fakebbb

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
)

// Checksum algorithm names, as in bbb-web's supportedChecksumAlgorithms.
const (
	SHA1   = "sha1"
	SHA256 = "sha256"
	SHA384 = "sha384"
	SHA512 = "sha512"
)

// algorithmForLength picks the hash from the length of a hex checksum, as
// bbb-web 2.5+ and bbb-webhooks do; "" for any other length.
func algorithmForLength(n int) string {
	switch n {
	case 40:
		return SHA1
	case 64:
		return SHA256
	case 96:
		return SHA384
	case 128:
		return SHA512
	}
	return ""
}

func newHash(alg string) hash.Hash {
	switch alg {
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA384:
		return sha512.New384()
	case SHA512:
		return sha512.New()
	}
	return nil
}

// hexDigest returns the lower-case hex digest of the concatenated parts, or
// "" for an unknown algorithm.
func hexDigest(alg string, parts ...string) string {
	h := newHash(alg)
	if h == nil {
		return ""
	}
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// algorithmAllowed reports whether alg is in the allow-list; nil allows all
// four algorithms.
func algorithmAllowed(allowed []string, alg string) bool {
	if alg == "" {
		return false
	}
	if allowed == nil {
		return true
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(a), alg) {
			return true
		}
	}
	return false
}

// stripChecksum removes checksum value sum from a raw query string with
// bbb-web's three literal replacements, in bbb-web's order.
func stripChecksum(raw, sum string) string {
	raw = strings.ReplaceAll(raw, "&checksum="+sum, "")
	raw = strings.ReplaceAll(raw, "checksum="+sum+"&", "")
	return strings.ReplaceAll(raw, "checksum="+sum, "")
}

// checksumRequest is what verifyChecksum needs from a request.
type checksumRequest struct {
	call     string // path after /bigbluebutton/api/
	rawQuery string // query string exactly as received
	all      params // query pairs followed by form-body pairs
	form     params // form-body pairs only
}

// verifyChecksum checks a BBB API request the way bbb-web 2.5+ does: the
// first checksum value (query, then form body) picks the algorithm by its
// length, the algorithm must be allowed, and HASH(call + rawQuery without
// the checksum + secret) must equal it, compared case-insensitively. A
// form POST whose parameters are all in the body (empty query) is also
// accepted when signed over the 2.5–2.7 rebuild of the body parameters
// (sorted by name, Java URLEncoder encoding). An empty secret disables the
// check.
func verifyChecksum(secret string, allowed []string, r checksumRequest) bool {
	if secret == "" {
		return true
	}
	sum, ok := r.all.lookup("checksum")
	if !ok || sum == "" {
		return false
	}
	alg := algorithmForLength(len(sum))
	if !algorithmAllowed(allowed, alg) {
		return false
	}
	got := []byte(strings.ToLower(sum))
	want := hexDigest(alg, r.call, stripChecksum(r.rawQuery, sum), secret)
	if subtle.ConstantTimeCompare([]byte(want), got) == 1 {
		return true
	}
	if r.rawQuery != "" || len(r.form) == 0 {
		return false
	}
	want = hexDigest(alg, r.call, javaSortedQuery(r.form), secret)
	return subtle.ConstantTimeCompare([]byte(want), got) == 1
}

// javaSortedQuery is bbb-web 2.5–2.7's rebuild of a query string from a
// parameter map (ValidationService.buildQueryStringFromParamsMap): every
// parameter except checksum, names in the order of a Java TreeSet<String>
// (UTF-16 code units), each name as is (not encoded) followed by each of
// its values in turn, values encoded like java.net.URLEncoder.
func javaSortedQuery(p params) string {
	values := make(map[string][]string, len(p))
	var names []string
	for _, q := range p {
		if q.name == "checksum" {
			continue
		}
		if _, seen := values[q.name]; !seen {
			names = append(names, q.name)
		}
		values[q.name] = append(values[q.name], q.value)
	}
	sort.Slice(names, func(i, j int) bool { return compareUTF16(names[i], names[j]) < 0 })
	var b strings.Builder
	for _, n := range names {
		for _, v := range values[n] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(n)
			b.WriteByte('=')
			b.WriteString(javaURLEncode(v))
		}
	}
	return b.String()
}

// compareUTF16 compares a and b as Java's String.compareTo does, by UTF-16
// code units. It differs from Go's byte order only between characters
// above U+FFFF and those in U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// javaURLEncode encodes like java.net.URLEncoder with UTF-8: letters,
// digits and ".-*_" stay, space becomes '+', every other byte %XX.
func javaURLEncode(s string) string {
	return formEncode(s, ".-*_")
}

// formEncode is application/x-www-form-urlencoded encoding: ASCII letters,
// digits and the bytes in keep are unchanged, space becomes '+', every
// other byte becomes %XX with upper-case hex.
func formEncode(s, keep string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isASCIILetter(c), c >= '0' && c <= '9', c < 0x80 && c != 0 && strings.IndexByte(keep, c) >= 0:
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

// webhooksQuery returns the query bbb-webhooks signs: from the request URL
// (path and query) it removes the first match of /&checksum=[^&]*/, then
// of /checksum=[^&]*&/, then of /checksum=[^&]*$/, and returns what
// follows the first '?'.
func webhooksQuery(fullURL string) string {
	s := fullURL
	// /&checksum=[^&]*/
	if i := strings.Index(s, "&checksum="); i >= 0 {
		j := i + len("&checksum=")
		if k := strings.IndexByte(s[j:], '&'); k >= 0 {
			j += k
		} else {
			j = len(s)
		}
		s = s[:i] + s[j:]
	}
	// /checksum=[^&]*&/: only the first occurrence can be followed by '&'
	// if any can.
	if i := strings.Index(s, "checksum="); i >= 0 {
		if k := strings.IndexByte(s[i:], '&'); k >= 0 {
			s = s[:i] + s[i+k+1:]
		}
	}
	// /checksum=[^&]*$/: the match must start after the last '&'.
	last := strings.LastIndexByte(s, '&') + 1
	if i := strings.Index(s[last:], "checksum="); i >= 0 {
		s = s[:last+i]
	}
	if _, q, ok := strings.Cut(s, "?"); ok {
		return q
	}
	return ""
}

// verifyWebhooksChecksum checks a hooks/* request the way bbb-webhooks
// does: algorithm by length, allow-listed, HASH(method + query + secret)
// compared case-sensitively with the (single) checksum value.
func verifyWebhooksChecksum(secret string, allowed []string, call, fullURL string, p params) bool {
	if secret == "" {
		return true
	}
	var sums []string
	for _, q := range p {
		if q.name == "checksum" {
			sums = append(sums, q.value)
		}
	}
	if len(sums) != 1 || sums[0] == "" {
		return false
	}
	alg := algorithmForLength(len(sums[0]))
	if !algorithmAllowed(allowed, alg) {
		return false
	}
	want := hexDigest(alg, call, webhooksQuery(fullURL), secret)
	return subtle.ConstantTimeCompare([]byte(want), []byte(sums[0])) == 1
}
