package bbb

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
)

// Checksum algorithms, named as in bbb-web's supportedChecksumAlgorithms.
const (
	SHA1   = "sha1"
	SHA256 = "sha256"
	SHA384 = "sha384"
	SHA512 = "sha512"
)

// AllAlgorithms lists every algorithm BBB accepts, weakest first.
var AllAlgorithms = []string{SHA1, SHA256, SHA384, SHA512}

// Checksum errors. Both render as BBB's checksumError.
var (
	ErrChecksumMissing = errors.New("checksum missing")
	ErrChecksumInvalid = errors.New("checksum does not match")
)

// ValidAlgorithm reports whether name is one of the four algorithms.
func ValidAlgorithm(name string) bool {
	return name != "" && AlgorithmForLength(HexLen(name)) == name
}

// HexLen returns the length of a hex digest of the algorithm, or 0.
func HexLen(alg string) int {
	switch alg {
	case SHA1:
		return 40
	case SHA256:
		return 64
	case SHA384:
		return 96
	case SHA512:
		return 128
	}
	return 0
}

// AlgorithmForLength picks the algorithm from a checksum's length in hex
// characters, as bbb-web 2.5+ does; "" for any other length.
func AlgorithmForLength(n int) string {
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

// Checksum returns lower-case hex HASH(call + query + secret).
func Checksum(alg, call, query, secret string) string {
	var buf [2 * sha512.Size]byte
	return string(appendChecksum(buf[:0], alg, call, query, secret))
}

// appendChecksum appends the lower-case hex checksum to dst. Inputs up to
// 1 KiB are hashed from a stack buffer, so it does not allocate.
func appendChecksum(dst []byte, alg, call, query, secret string) []byte {
	var stack [1024]byte
	in := append(append(append(stack[:0], call...), query...), secret...)
	var sum []byte
	switch alg {
	case SHA1:
		s := sha1.Sum(in)
		sum = s[:]
	case SHA384:
		s := sha512.Sum384(in)
		sum = s[:]
	case SHA512:
		s := sha512.Sum512(in)
		sum = s[:]
	default:
		s := sha256.Sum256(in)
		sum = s[:]
	}
	return hex.AppendEncode(dst, sum)
}

// Sign returns query with a checksum parameter appended, computed with secret
// and alg over call and query exactly as given.
func Sign(alg, call, query, secret string) string {
	var b strings.Builder
	writeSigned(&b, alg, call, query, secret)
	return b.String()
}

// writeSigned writes query with its checksum parameter to b, growing b
// once for the whole result.
func writeSigned(b *strings.Builder, alg, call, query, secret string) {
	var buf [2 * sha512.Size]byte
	sum := appendChecksum(buf[:0], alg, call, query, secret)
	b.Grow(len(query) + len("&checksum=") + len(sum))
	if query != "" {
		b.WriteString(query)
		b.WriteByte('&')
	}
	b.WriteString("checksum=")
	b.Write(sum)
}

// StripChecksum removes the checksum from a raw query the way bbb-web does:
// it takes the first checksum value and cuts "&checksum=V", then
// "checksum=V&", then "checksum=V" out of the raw string. It returns the
// rest and the checksum value (empty if there is none).
func StripChecksum(raw string) (rest, sum string) {
	rest, sum, _ = stripChecksum(raw)
	return rest, sum
}

// stripChecksum is StripChecksum that also reports whether raw has a
// checksum parameter at all (possibly with an empty value).
func stripChecksum(raw string) (rest, sum string, ok bool) {
	sum, ok = firstChecksum(raw)
	if !ok {
		return raw, "", false
	}
	rest = removeAll(raw, "&checksum=", sum, "")
	rest = removeAll(rest, "checksum=", sum, "&")
	rest = removeAll(rest, "checksum=", sum, "")
	return rest, sum, true
}

// firstChecksum returns the decoded value of the first pair of raw whose
// decoded name is "checksum", as ParseQuery(raw).Lookup does.
func firstChecksum(raw string) (string, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		n, v, _ := strings.Cut(part, "=")
		if n == ParamChecksum || (escaped(n) && unescape(n) == ParamChecksum) {
			return unescape(v), true
		}
	}
	return "", false
}

// removeAll removes every occurrence of pre+mid+post from s. It allocates
// only if an occurrence is cut from the inside of s: the common query with
// one checksum at its start or end yields a substring of s.
func removeAll(s, pre, mid, post string) string {
	var b strings.Builder
	last, cuts, first := 0, 0, 0
	for i := 0; i <= len(s); {
		j := strings.Index(s[i:], pre)
		if j < 0 {
			break
		}
		j += i
		k := j + len(pre)
		if strings.HasPrefix(s[k:], mid) && strings.HasPrefix(s[k+len(mid):], post) {
			if cuts == 0 {
				first = j
			} else {
				if cuts == 1 {
					b.Grow(len(s))
					b.WriteString(s[:first])
				}
				b.WriteString(s[last:j])
			}
			cuts++
			last = k + len(mid) + len(post)
			i = last
			continue
		}
		i = j + 1
	}
	switch {
	case cuts == 0:
		return s
	case cuts == 1 && first == 0:
		return s[last:]
	case cuts == 1 && last == len(s):
		return s[:first]
	case cuts == 1:
		b.Grow(len(s) - (last - first))
		b.WriteString(s[:first])
	}
	b.WriteString(s[last:])
	return b.String()
}

// Verifier checks checksums of requests signed with one secret.
type Verifier struct {
	// Secret is the shared secret clients sign with. Empty disables
	// verification, as in bbb-web.
	Secret string
	// Algorithms are the accepted algorithms; nil accepts all four.
	Algorithms []string
}

func (v Verifier) allowed(alg string) bool {
	if alg == "" {
		return false
	}
	if v.Algorithms == nil {
		return true
	}
	for _, a := range v.Algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// VerifyQuery checks the checksum carried in rawQuery for call. The checksum
// is compared case-insensitively in constant time.
func (v Verifier) VerifyQuery(call, rawQuery string) error {
	if v.Secret == "" {
		return nil
	}
	rest, sum := StripChecksum(rawQuery)
	return v.checkStripped(call, rest, sum)
}

// checkStripped checks sum, the checksum cut out of a query, against
// rest, the query without it.
func (v Verifier) checkStripped(call, rest, sum string) error {
	if v.Secret == "" {
		return nil
	}
	if sum == "" {
		return ErrChecksumMissing
	}
	return v.check(call, rest, sum)
}

func (v Verifier) check(call, query, sum string) error {
	alg := AlgorithmForLength(len(sum))
	if !v.allowed(alg) {
		return ErrChecksumInvalid
	}
	var wbuf, gbuf [2 * sha512.Size]byte
	want := appendChecksum(wbuf[:0], alg, call, query, v.Secret)
	got := gbuf[:len(sum)]
	for i := 0; i < len(sum); i++ {
		c := sum[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		got[i] = c
	}
	if subtle.ConstantTimeCompare(want, got) != 1 {
		return ErrChecksumInvalid
	}
	return nil
}

// VerifyBeforeBody checks a request before its body is read, as far as the
// body cannot change the verdict: if rawQuery carries a checksum, or if
// the request has no form body (mediaType is not
// application/x-www-form-urlencoded; pass "" for a GET), it returns
// done == true with Verify's verdict. Only a form body without a checksum
// in the query needs the body: then it returns done == false and the
// caller reads the body and calls Verify. This lets a server refuse
// unsigned requests without buffering their bodies.
func (v Verifier) VerifyBeforeBody(call, rawQuery, mediaType string) (done bool, err error) {
	rest, sum, ok := stripChecksum(rawQuery)
	if ok || mediaType != "application/x-www-form-urlencoded" {
		return true, v.checkStripped(call, rest, sum)
	}
	return false, nil
}

// Verify checks a request as bbb-web does: the checksum is the first
// "checksum" parameter of the query or, failing that, of a form body, and
// it covers the raw query. For a POST whose parameters are all in a form
// body (empty query), it also accepts HASH(call+secret) (3.0 docs) and the
// 2.5–2.7 rebuild of all parameters sorted by name (spec §2.4).
func (v Verifier) Verify(r *Request) error {
	if v.Secret == "" {
		return nil
	}
	if _, ok := firstChecksum(r.RawQuery); ok || len(r.Form) == 0 {
		return v.VerifyQuery(r.Call, r.RawQuery)
	}
	sum, ok := r.Form.Lookup(ParamChecksum)
	if !ok || sum == "" {
		return ErrChecksumMissing
	}
	if err := v.check(r.Call, r.RawQuery, sum); err == nil || r.RawQuery != "" {
		return err
	}
	return v.check(r.Call, rebuildSorted(r.Form), sum)
}

// rebuildSorted is bbb-web 2.5–2.7's buildQueryStringFromParamsMap: every
// parameter but checksum, sorted by name as a Java TreeSet<String> sorts
// (by UTF-16 code units), each value of a repeated name in turn, the name
// as is and the value encoded like Java's URLEncoder (space as '+').
func rebuildSorted(q Query) string {
	names := make([]string, 0, len(q))
	values := make(map[string][]string, len(q))
	for _, p := range q {
		if p.Name == ParamChecksum {
			continue
		}
		if _, ok := values[p.Name]; !ok {
			names = append(names, p.Name)
		}
		values[p.Name] = append(values[p.Name], p.Value)
	}
	slices.SortFunc(names, compareUTF16)
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

// compareUTF16 orders strings as Java's String.compareTo does, by UTF-16
// code units. It differs from Go's byte order only between characters
// above U+FFFF (surrogate pairs, 0xD800–0xDFFF) and those in
// U+E000–U+FFFF.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return cmp.Compare(utf16Unit(ra), utf16Unit(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Unit returns the first UTF-16 code unit of r, shifted so that two
// different runes never compare equal (their first units may: two
// characters above U+FFFF can share a high surrogate).
func utf16Unit(r rune) int64 {
	if r < 0x10000 {
		return int64(r) << 20
	}
	hi := 0xD800 + (r-0x10000)>>10
	return int64(hi)<<20 | int64(r&0xFFFFF)
}

// javaURLEncode encodes like java.net.URLEncoder with UTF-8: letters,
// digits and ".-*_" stay, space becomes '+', everything else %XX (upper case).
func javaURLEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '*', c == '_':
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
