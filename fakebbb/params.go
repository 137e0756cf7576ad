package fakebbb

import (
	"net/url"
	"strings"
)

// pair is one name=value pair of a query string or form body, decoded with
// servlet semantics ('+' is a space). A pair whose escapes cannot be decoded
// keeps its raw bytes.
type pair struct {
	name, value string
}

// params is an ordered list of parameters: the query's pairs first, then
// those of a form body, as a servlet container merges them.
type params []pair

// parseParams splits raw on '&' and decodes every pair. It never fails and
// never drops a pair: ';' is an ordinary character and a malformed escape
// keeps its raw text.
func parseParams(raw string) params {
	if raw == "" {
		return nil
	}
	p := make(params, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		n, v, _ := strings.Cut(part, "=")
		p = append(p, pair{name: unescape(n), value: unescape(v)})
	}
	return p
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// get returns the first value of name, as bbb-web does, or "".
func (p params) get(name string) string {
	v, _ := p.lookup(name)
	return v
}

// lookup returns the first value of name and whether it is present.
func (p params) lookup(name string) (string, bool) {
	for _, q := range p {
		if q.name == name {
			return q.value, true
		}
	}
	return "", false
}

// has reports whether name is present with a non-empty value.
func (p params) has(name string) bool { return p.get(name) != "" }

// metaKey reports whether name is a metadata parameter
// (^meta_[a-zA-Z][a-zA-Z0-9-]*$) and returns the lower-cased key after
// "meta_".
func metaKey(name string) (string, bool) {
	const prefix = "meta_"
	if !strings.HasPrefix(name, prefix) {
		return "", false
	}
	k := name[len(prefix):]
	if k == "" || !isASCIILetter(k[0]) {
		return "", false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '-' {
			return "", false
		}
	}
	return strings.ToLower(k), true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// meta returns the metadata parameters in order of first appearance, keys
// lower-cased, first value of each key winning.
func (p params) meta() *metadata {
	md := &metadata{}
	for _, q := range p {
		if k, ok := metaKey(q.name); ok {
			if _, dup := md.get(k); !dup {
				md.set(k, q.value)
			}
		}
	}
	return md
}

// userdata returns the userdata-<name> parameters of a join (exactly one
// hyphen-separated part after "userdata"), in order, first value winning.
func (p params) userdata() *metadata {
	md := &metadata{}
	for _, q := range p {
		parts := strings.Split(q.name, "-")
		if len(parts) != 2 || parts[0] != "userdata" || !validXMLName(parts[1]) {
			continue
		}
		if _, dup := md.get(parts[1]); !dup {
			md.set(parts[1], q.value)
		}
	}
	return md
}

// parseBool parses a BBB boolean: literal "true" or "false", case
// insensitive. ok is false for any other non-empty value.
func parseBool(s string) (v, ok bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false", "":
		return false, true
	}
	return false, false
}

// metadata is an insertion-ordered string map (meeting metadata, recording
// metadata, user custom data). Its zero value is empty and usable.
type metadata struct {
	keys []string
	vals map[string]string
}

func (m *metadata) get(k string) (string, bool) {
	if m == nil || m.vals == nil {
		return "", false
	}
	v, ok := m.vals[k]
	return v, ok
}

func (m *metadata) set(k, v string) {
	if m.vals == nil {
		m.vals = make(map[string]string)
	}
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func (m *metadata) del(k string) {
	if _, ok := m.get(k); !ok {
		return
	}
	delete(m.vals, k)
	for i, key := range m.keys {
		if key == k {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
}

func (m *metadata) len() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

// each calls f for every key in insertion order.
func (m *metadata) each(f func(k, v string)) {
	if m == nil {
		return
	}
	for _, k := range m.keys {
		f(k, m.vals[k])
	}
}

// clone returns a deep copy.
func (m *metadata) clone() *metadata {
	c := &metadata{}
	m.each(c.set)
	return c
}

// toMap returns a copy as a plain map (nil when empty).
func (m *metadata) toMap() map[string]string {
	if m.len() == 0 {
		return nil
	}
	out := make(map[string]string, m.len())
	m.each(func(k, v string) { out[k] = v })
	return out
}

// fromMap builds metadata from a map, keys sorted for a stable order.
func fromMap(in map[string]string) *metadata {
	md := &metadata{}
	for _, k := range sortedKeys(in) {
		md.set(k, in[k])
	}
	return md
}
