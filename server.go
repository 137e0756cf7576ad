package tinyscale

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// NormalizeURL turns a server's host as written in servers.json — a bare
// base URL (https://bbb1.example.org) or one that already ends in
// /bigbluebutton/api, with or without a trailing slash — into its API base
// URL ending in "/bigbluebutton/api/".
func NormalizeURL(host string) (string, error) {
	h := strings.TrimSpace(host)
	if h == "" {
		return "", errors.New("empty host")
	}
	if !strings.Contains(h, "://") {
		return "", fmt.Errorf("host %q has no scheme (want http:// or https://)", h)
	}
	u, err := url.Parse(h)
	if err != nil {
		return "", fmt.Errorf("host %q: %w", h, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("host %q: scheme must be http or https", h)
	}
	if u.Host == "" {
		return "", fmt.Errorf("host %q has no host name", h)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("host %q must not carry a query, fragment or user info", h)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/bigbluebutton/api")
	p = strings.TrimSuffix(p, "/bigbluebutton")
	u.Path = strings.TrimRight(p, "/") + "/bigbluebutton/api/"
	u.RawPath = ""
	return u.String(), nil
}

// DefaultServerID derives a stable server ID from an API base URL: the host
// name (with port if any, ':' replaced by '-'), plus the path when it is not
// the standard one.
func DefaultServerID(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return ""
	}
	id := strings.ToLower(strings.ReplaceAll(u.Host, ":", "-"))
	if p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/bigbluebutton/api"); p != "" {
		id += strings.ReplaceAll(p, "/", "-")
	}
	return id
}

// Normalize fills a server's defaults (URL normalised, ID, weight 1, state
// enabled, algorithm sha256) and validates it. Errors name the field.
func (s Server) Normalize() (Server, error) {
	u, err := NormalizeURL(s.URL)
	if err != nil {
		return s, fmt.Errorf("host: %w", err)
	}
	s.URL = u
	if s.ID == "" {
		s.ID = DefaultServerID(u)
	}
	for _, c := range s.ID {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return s, fmt.Errorf("id: %q may contain only letters, digits, '-', '_' and '.'", s.ID)
		}
	}
	if s.Secret == "" {
		return s, errors.New("secret: must not be empty")
	}
	if s.Weight == 0 {
		s.Weight = 1
	}
	if s.Weight < 0 {
		return s, fmt.Errorf("weight: must be positive, got %v", s.Weight)
	}
	if s.State == "" {
		s.State = StateEnabled
	}
	if !s.State.Valid() {
		return s, fmt.Errorf("state: %q is not enabled, cordoned or disabled", s.State)
	}
	switch s.Algorithm {
	case "":
		s.Algorithm = "sha256"
	case "sha1", "sha256", "sha384", "sha512":
	default:
		return s, fmt.Errorf("algorithm: %q is not sha1, sha256, sha384 or sha512", s.Algorithm)
	}
	return s, nil
}
