package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// defaultSentinelPort is used for sentinel addresses without a port.
const defaultSentinelPort = "26379"

// Supported URL schemes.
const (
	schemeRedis         = "redis"
	schemeRedisTLS      = "rediss"
	schemeUnix          = "unix"
	schemeSentinel      = "redis+sentinel"
	schemeSentinelTLS   = "rediss+sentinel"
	sentinelQueryUser   = "sentinel_username"
	sentinelQueryPasswd = "sentinel_password"
)

// errBadURL is wrapped by every URL parsing error. Parsing errors never
// quote the URL, its userinfo or its query, so they are safe to log.
var errBadURL = errors.New("invalid Redis URL")

// parsedURL is a parsed store URL: exactly one of standalone and failover
// is set.
type parsedURL struct {
	standalone *goredis.Options
	failover   *goredis.FailoverOptions
}

// parseURL parses the URL forms documented on Open.
func parseURL(raw string) (parsedURL, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return parsedURL{}, fmt.Errorf("%w: missing scheme (want redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://)", errBadURL)
	}
	switch strings.ToLower(scheme) {
	case schemeRedis, schemeRedisTLS, schemeUnix:
		// Parse once ourselves: url.Parse errors quote the input, which may
		// hold the password.
		if _, err := url.Parse(raw); err != nil {
			return parsedURL{}, fmt.Errorf("%w: malformed URL", errBadURL)
		}
		o, err := goredis.ParseURL(raw)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				return parsedURL{}, fmt.Errorf("%w: malformed URL", errBadURL)
			}
			// go-redis' own messages name the scheme, the database or
			// option names, never the userinfo.
			return parsedURL{}, fmt.Errorf("%w: %w", errBadURL, err)
		}
		return parsedURL{standalone: o}, nil
	case schemeSentinel, schemeSentinelTLS:
		o, err := parseSentinelURL(raw)
		if err != nil {
			return parsedURL{}, err
		}
		return parsedURL{failover: o}, nil
	default:
		return parsedURL{}, fmt.Errorf("%w: unsupported scheme (want redis://, rediss://, unix://, redis+sentinel:// or rediss+sentinel://)", errBadURL)
	}
}

// parseSentinelURL parses
//
//	redis+sentinel://[[username][:password]@]host1[:port1][,host2[:port2]...]/mastername[/db][?sentinel_username=u&sentinel_password=p]
//
// and the same with rediss+sentinel for TLS.
func parseSentinelURL(raw string) (*goredis.FailoverOptions, error) {
	scheme, rest, _ := strings.Cut(raw, "://")
	o := &goredis.FailoverOptions{}
	if strings.EqualFold(scheme, schemeSentinelTLS) {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return nil, fmt.Errorf("%w: fragment not allowed", errBadURL)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")

	// The userinfo ends at the last '@' of the authority, so passwords may
	// contain '@' if they are percent-encoded or not.
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return nil, fmt.Errorf("%w: bad escape in username", errBadURL)
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return nil, fmt.Errorf("%w: bad escape in password", errBadURL)
			}
		}
	}

	if authority == "" {
		return nil, fmt.Errorf("%w: no sentinel address", errBadURL)
	}
	for _, hp := range strings.Split(authority, ",") {
		addr, err := sentinelAddr(hp)
		if err != nil {
			return nil, err
		}
		o.SentinelAddrs = append(o.SentinelAddrs, addr)
	}

	parts := strings.Split(path, "/")
	if len(parts) > 2 || parts[0] == "" {
		return nil, fmt.Errorf("%w: path must be /mastername or /mastername/db", errBadURL)
	}
	master, err := url.PathUnescape(parts[0])
	if err != nil || master == "" {
		return nil, fmt.Errorf("%w: bad master name", errBadURL)
	}
	o.MasterName = master
	if len(parts) == 2 {
		db, err := strconv.Atoi(parts[1])
		if err != nil || db < 0 || parts[1] != strconv.Itoa(db) {
			return nil, fmt.Errorf("%w: database must be a non-negative integer", errBadURL)
		}
		o.DB = db
	}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed query", errBadURL)
	}
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, fmt.Errorf("%w: query parameter %q given %d times", errBadURL, k, len(vs))
		}
		switch k {
		case sentinelQueryUser:
			o.SentinelUsername = vs[0]
		case sentinelQueryPasswd:
			o.SentinelPassword = vs[0]
		default:
			return nil, fmt.Errorf("%w: unknown query parameter (want %s or %s)", errBadURL, sentinelQueryUser, sentinelQueryPasswd)
		}
	}
	return o, nil
}

// sentinelAddr validates one host[:port] or [ipv6][:port] and returns it
// as host:port.
func sentinelAddr(hp string) (string, error) {
	host, port := hp, defaultSentinelPort
	switch {
	case strings.HasPrefix(hp, "["):
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", fmt.Errorf("%w: unclosed '[' in sentinel address", errBadURL)
		}
		host = hp[1:end]
		switch after := hp[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return "", fmt.Errorf("%w: junk after ']' in sentinel address", errBadURL)
		}
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("%w: bad IPv6 sentinel address", errBadURL)
		}
	case strings.Contains(hp, ":"):
		var err error
		host, port, err = net.SplitHostPort(hp)
		if err != nil {
			return "", fmt.Errorf("%w: bad sentinel address", errBadURL)
		}
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n%@/[]:") && net.ParseIP(host) == nil {
		return "", fmt.Errorf("%w: bad sentinel host", errBadURL)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return "", fmt.Errorf("%w: sentinel port must be 1-65535", errBadURL)
	}
	return net.JoinHostPort(host, port), nil
}

// IsURL reports whether s starts with one of the schemes Open accepts
// (redis, rediss, unix, redis+sentinel, rediss+sentinel, any case), so a
// caller can tell a Redis URL from a bolt file path.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case schemeRedis, schemeRedisTLS, schemeUnix, schemeSentinel, schemeSentinelTLS:
		return true
	}
	return false
}
