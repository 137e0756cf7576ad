package bbb

import (
	"net/url"
	"strings"
)

// Pair is one name=value pair of a query string, kept as received.
type Pair struct {
	// RawName and RawValue are the bytes as received (still percent-encoded).
	RawName, RawValue string
	// Name and Value are decoded with servlet semantics ('+' is a space).
	// A pair that cannot be decoded keeps its raw bytes here.
	Name, Value string
	// NoEq is true for a pair received without '=' ("flag" rather than
	// "flag="), so that Encode gives it back unchanged.
	NoEq bool
}

// Query is a parsed query string that keeps order, duplicates and the raw
// bytes of every pair, so nothing is lost when it is forwarded.
type Query []Pair

// ParseQuery splits raw on '&' and decodes each pair. Unlike url.ParseQuery
// it never drops a pair: ';' is an ordinary character and a malformed
// escape keeps its raw text.
func ParseQuery(raw string) Query {
	if raw == "" {
		return nil
	}
	q := make(Query, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		rn, rv, eq := strings.Cut(part, "=")
		q = append(q, Pair{RawName: rn, RawValue: rv, Name: unescape(rn), Value: unescape(rv), NoEq: !eq})
	}
	return q
}

func unescape(s string) string {
	if !escaped(s) {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// escaped reports whether s holds a '%' or '+', which decoding changes.
// (A byte loop: strings.ContainsAny builds a set on every call, which
// showed up on the join path, where every name and value is checked.)
func escaped(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '+' {
			return true
		}
	}
	return false
}

// Get returns the first value of name, as bbb-web does, or "".
func (q Query) Get(name string) string {
	v, _ := q.Lookup(name)
	return v
}

// Lookup returns the first value of name and whether it is present.
func (q Query) Lookup(name string) (string, bool) {
	for _, p := range q {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Encode returns the query's raw form, pairs joined with '&'.
func (q Query) Encode() string {
	var b strings.Builder
	for i, p := range q {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.RawName)
		if !p.NoEq {
			b.WriteByte('=')
			b.WriteString(p.RawValue)
		}
	}
	return b.String()
}

// Set replaces the value of every pair named name with value (encoded with
// url.QueryEscape), or appends one pair if name is absent.
func (q Query) Set(name, value string) Query {
	found := false
	out := q[:0:0]
	for _, p := range q {
		if p.Name == name {
			if found {
				continue
			}
			found = true
			p = Pair{RawName: p.RawName, RawValue: url.QueryEscape(value), Name: name, Value: value}
		}
		out = append(out, p)
	}
	if !found {
		out = append(out, Pair{RawName: url.QueryEscape(name), RawValue: url.QueryEscape(value), Name: name, Value: value})
	}
	return out
}

// Del returns q without any pair named name.
func (q Query) Del(name string) Query {
	out := q[:0:0]
	for _, p := range q {
		if p.Name != name {
			out = append(out, p)
		}
	}
	return out
}

// Meta returns the meta_* parameters that BBB treats as metadata
// (^meta_[a-zA-Z][a-zA-Z0-9-]*$), keyed by the lower-cased name after
// "meta_", first value wins.
func (q Query) Meta() map[string]string {
	var m map[string]string
	for _, p := range q {
		k, ok := MetaKey(p.Name)
		if !ok {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		if _, dup := m[k]; !dup {
			m[k] = p.Value
		}
	}
	return m
}

// MetaKey reports whether name is a metadata parameter and returns its
// lower-cased key without the "meta_" prefix.
func MetaKey(name string) (string, bool) {
	if !strings.HasPrefix(name, ParamMetaPrefix) {
		return "", false
	}
	k := name[len(ParamMetaPrefix):]
	if k == "" || !isLetter(k[0]) {
		return "", false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '-' {
			return "", false
		}
	}
	return strings.ToLower(k), true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
