package bbb

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"
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
	return AlgorithmForLength(HexLen(name)) == name
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

func newHash(alg string) hash.Hash {
	switch alg {
	case SHA1:
		return sha1.New()
	case SHA384:
		return sha512.New384()
	case SHA512:
		return sha512.New()
	default:
		return sha256.New()
	}
}

// Checksum returns lower-case hex HASH(call + query + secret).
func Checksum(alg, call, query, secret string) string {
	h := newHash(alg)
	h.Write([]byte(call))
	h.Write([]byte(query))
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

// Sign returns query with a checksum parameter appended, computed with secret
// and alg over call and query exactly as given.
func Sign(alg, call, query, secret string) string {
	sum := Checksum(alg, call, query, secret)
	if query == "" {
		return "checksum=" + sum
	}
	return query + "&checksum=" + sum
}

// StripChecksum removes the checksum from a raw query the way bbb-web does:
// it takes the first checksum value and cuts "&checksum=V", then
// "checksum=V&", then "checksum=V" out of the raw string. It returns the
// rest and the checksum value (empty if there is none).
func StripChecksum(raw string) (rest, sum string) {
	sum, ok := ParseQuery(raw).Lookup(ParamChecksum)
	if !ok {
		return raw, ""
	}
	rest = strings.ReplaceAll(raw, "&checksum="+sum, "")
	rest = strings.ReplaceAll(rest, "checksum="+sum+"&", "")
	rest = strings.ReplaceAll(rest, "checksum="+sum, "")
	return rest, sum
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
	want := Checksum(alg, call, query, v.Secret)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(sum))) != 1 {
		return ErrChecksumInvalid
	}
	return nil
}

// Verify checks a request: the raw query first; for a POST whose
// parameters are all in a form body (empty query), also HASH(call+secret)
// (3.0 docs) and the 2.5–2.7 rebuild of all parameters sorted by name and
// URL-encoded (spec §2.4).
func (v Verifier) Verify(r *Request) error {
	if v.Secret == "" {
		return nil
	}
	if r.RawQuery != "" || len(r.Form) == 0 {
		return v.VerifyQuery(r.Call, r.RawQuery)
	}
	sum, ok := r.Form.Lookup(ParamChecksum)
	if !ok || sum == "" {
		return ErrChecksumMissing
	}
	if err := v.check(r.Call, "", sum); err == nil {
		return nil
	}
	return v.check(r.Call, rebuildSorted(r.Form), sum)
}

// rebuildSorted is bbb-web 2.5–2.7's buildQueryStringFromParamsMap: every
// parameter but checksum, sorted by name, values encoded like Java's
// URLEncoder (space as '+').
func rebuildSorted(q Query) string {
	pairs := make([]Pair, 0, len(q))
	seen := map[string]bool{}
	for _, p := range q {
		if p.Name == ParamChecksum || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		pairs = append(pairs, p)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].Name < pairs[j].Name })
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "%s=%s", javaURLEncode(p.Name), javaURLEncode(p.Value))
	}
	return b.String()
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
