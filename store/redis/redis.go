// Package redis implements tinyscale.Store on Redis, so that several
// tinyscale instances behind one address share their state and any of them
// can take over when another fails.
//
// # URLs
//
// Open accepts:
//
//	redis://[[username]:password@]host[:port][/db][?option=value...]
//	rediss://[[username]:password@]host[:port][/db][?option=value...]   (TLS)
//	unix://[[username]:password@]/path/to/redis.sock[?db=N&option=value...]
//	redis+sentinel://[[username]:password@]host1[:port1][,host2[:port2]...]/mastername[/db][?sentinel_username=u&sentinel_password=p]
//	rediss+sentinel://...   (the same, with TLS to the sentinels and the master)
//
// The port defaults to 6379 (26379 for sentinels) and db to 0. Reserved
// characters in a username or password must be percent-encoded. For the
// redis, rediss and unix forms, the query takes go-redis' snake_case options
// (dial_timeout=2s, pool_size=20, ...); they override this package's
// defaults. In the sentinel forms, the userinfo authenticates to the Redis
// master, and sentinel_username/sentinel_password, if given, to the
// sentinels, which are otherwise contacted without authentication. The
// client asks the sentinels for the current master and follows failovers.
// Redis Cluster is not supported: the store's scripts touch several keys.
//
// # Failure behaviour
//
// Dial, read and write timeouts default to one second, a failed dial is not
// repeated and commands are not retried (a retried script could run twice),
// so while Redis is unreachable every call fails within about a second with
// an error wrapping tinyscale.ErrStoreUnavailable instead of hanging. Calls
// succeed again by themselves once Redis is back; nothing has to be
// restarted. A call whose context is canceled returns an error wrapping
// context.Canceled, not ErrStoreUnavailable. The go-redis library logs
// refused dials on its own logger; see SetLogger.
//
// # Persistence
//
// Redis keeps data in memory. For tinyscale's meeting map to survive a Redis
// restart, enable the append-only file in redis.conf:
//
//	appendonly yes
//	appendfsync everysec   # loses at most about one second of writes on a crash
//	# appendfsync always   # loses nothing acknowledged, at some write cost
//
// RDB snapshots alone (save ...) can lose every write since the last
// snapshot. With Sentinel, replication is asynchronous: a failover can lose
// the last writes acknowledged by the old master.
//
// # Keys
//
// All keys start with the prefix (default "tinyscale:"), so several
// deployments can share a Redis database:
//
//	<prefix>servers           hash   server ID → Server JSON
//	<prefix>meetings          hash   meeting ID → Meeting JSON
//	<prefix>meetings:created  zset   meeting ID scored by CreatedAt in Unix microseconds
//	<prefix>health            hash   server ID → Health JSON
//	<prefix>hooks             hash   hook ID → Hook JSON
//	<prefix>hooks:seq         string last NextHookID (INCR)
//	<prefix>recordings        hash   record ID → server ID
//	<prefix>once:<key>        string with a TTL (SET NX PX)
//	<prefix>lease:<name>      string holder with a TTL
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/tinyscale/tinyscale"
)

// DefaultKeyPrefix starts every key the store writes.
const DefaultKeyPrefix = "tinyscale:"

// DefaultTimeout is the default dial, read and write timeout.
const DefaultTimeout = time.Second

// Option configures Open.
type Option func(*options)

type options struct {
	prefix  string
	timeout time.Duration
	tls     *tls.Config
}

// WithKeyPrefix sets the prefix of every key; default DefaultKeyPrefix. An
// empty prefix is allowed.
func WithKeyPrefix(p string) Option {
	return func(o *options) { o.prefix = p }
}

// WithTimeout sets the dial, read and write timeouts, overriding the URL's
// options; default DefaultTimeout. A value <= 0 means the default.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithTLSConfig sets the TLS configuration (for example a private CA pool)
// and turns TLS on, also for redis:// and redis+sentinel:// URLs.
func WithTLSConfig(c *tls.Config) Option {
	return func(o *options) { o.tls = c }
}

// Store is a tinyscale.Store on Redis. It is safe for concurrent use, and
// any number of Stores (in any number of processes) may share one Redis
// database and prefix.
type Store struct {
	c      *goredis.Client
	prefix string

	kServers, kMeetings, kCreated, kHealth, kHooks, kHookSeq, kRecordings string

	closeOnce sync.Once
	closeErr  error
}

var _ tinyscale.Store = (*Store)(nil)

// Open connects to the Redis server or Sentinel group named by rawURL (see
// the package documentation for the forms) and checks that it answers. If
// it does not, Open fails with an error wrapping
// tinyscale.ErrStoreUnavailable. Errors never contain the URL's password.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	o := options{prefix: DefaultKeyPrefix, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open redis store: %w", err)
	}

	var c *goredis.Client
	if u.standalone != nil {
		ro := u.standalone
		ro.DialTimeout = orDefault(ro.DialTimeout, o.timeout)
		ro.ReadTimeout = orDefault(ro.ReadTimeout, o.timeout)
		ro.WriteTimeout = orDefault(ro.WriteTimeout, o.timeout)
		ro.PoolTimeout = orDefault(ro.PoolTimeout, o.timeout)
		if ro.MaxRetries == 0 {
			ro.MaxRetries = -1
		}
		if ro.DialerRetries == 0 {
			ro.DialerRetries = 1
		}
		ro.ContextTimeoutEnabled = true
		ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		if o.tls != nil {
			ro.TLSConfig = o.tls
		}
		c = goredis.NewClient(ro)
	} else {
		fo := u.failover
		fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout, fo.PoolTimeout = o.timeout, o.timeout, o.timeout, o.timeout
		fo.MaxRetries = -1
		fo.DialerRetries = 1
		fo.ContextTimeoutEnabled = true
		if o.tls != nil {
			fo.TLSConfig = o.tls
		}
		c = goredis.NewFailoverClient(fo)
	}

	p := o.prefix
	s := &Store{
		c:           c,
		prefix:      p,
		kServers:    p + "servers",
		kMeetings:   p + "meetings",
		kCreated:    p + "meetings:created",
		kHealth:     p + "health",
		kHooks:      p + "hooks",
		kHookSeq:    p + "hooks:seq",
		kRecordings: p + "recordings",
	}
	if err := s.Ping(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("open redis store: %w", err)
	}
	return s, nil
}

// orDefault keeps an explicit URL setting and fills in d otherwise.
func orDefault(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

// Ping reports whether Redis answers; the error wraps
// tinyscale.ErrStoreUnavailable if not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Close closes the connections. It is safe to call more than once; later
// calls return the first call's result. After Close, every method fails
// with an error wrapping tinyscale.ErrStoreUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.c.Close(); err != nil {
			s.closeErr = fmt.Errorf("close redis store: %w", err)
		}
	})
	return s.closeErr
}

// errInvalid marks argument errors, which are not outages.
var errInvalid = errors.New("invalid argument")

func invalid(op, what string) error {
	return fmt.Errorf("redis store: %s: %w: %s", op, errInvalid, what)
}

// unavailable wraps a Redis client error: every failure to talk to Redis
// (refused, timeout, closed client, failover in progress, ...) is reported
// as a temporary outage, except a canceled context: the caller gave up,
// Redis did not fail. Context errors stay visible through errors.Is.
func unavailable(op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	return fmt.Errorf("redis store: %s: %w: %w", op, tinyscale.ErrStoreUnavailable, err)
}

func notFound(op string) error {
	return fmt.Errorf("redis store: %s: %w", op, tinyscale.ErrNotFound)
}
