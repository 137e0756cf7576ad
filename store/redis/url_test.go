package redis

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURL_standalone(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		wantAddr  string
		wantDB    int
		wantUser  string
		wantPass  string
		wantTLS   bool
		wantNet   string
		wantDialS float64 // DialTimeout in seconds from the URL, 0 if unset
	}{
		{name: "host_port_db", url: "redis://10.0.0.5:6380/2", wantAddr: "10.0.0.5:6380", wantDB: 2, wantNet: "tcp"},
		{name: "defaults", url: "redis://redis.internal", wantAddr: "redis.internal:6379", wantNet: "tcp"},
		{name: "password_only", url: "redis://:p%40ss@h:1/0", wantAddr: "h:1", wantPass: "p@ss", wantNet: "tcp"},
		{name: "user_and_password", url: "redis://app:pw@h/3", wantAddr: "h:6379", wantDB: 3, wantUser: "app", wantPass: "pw", wantNet: "tcp"},
		{name: "tls", url: "rediss://h:6390/0", wantAddr: "h:6390", wantTLS: true, wantNet: "tcp"},
		{name: "ipv6", url: "redis://[::1]:7000/1", wantAddr: "[::1]:7000", wantDB: 1, wantNet: "tcp"},
		{name: "query_option", url: "redis://h/0?dial_timeout=3s", wantAddr: "h:6379", wantNet: "tcp", wantDialS: 3},
		{name: "unix_socket", url: "unix:///run/redis.sock?db=4", wantAddr: "/run/redis.sock", wantDB: 4, wantNet: "unix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseURL(tt.url)
			if err != nil {
				t.Fatalf("parseURL: got error %v, want nil", err)
			}
			o := p.standalone
			if o == nil || p.failover != nil {
				t.Fatalf("parseURL: got %+v, want standalone options only", p)
			}
			if o.Addr != tt.wantAddr || o.DB != tt.wantDB || o.Username != tt.wantUser || o.Password != tt.wantPass || o.Network != tt.wantNet {
				t.Errorf("parseURL: got addr=%q db=%d user=%q pass=%q net=%q, want addr=%q db=%d user=%q pass=%q net=%q",
					o.Addr, o.DB, o.Username, o.Password, o.Network, tt.wantAddr, tt.wantDB, tt.wantUser, tt.wantPass, tt.wantNet)
			}
			if got := o.TLSConfig != nil; got != tt.wantTLS {
				t.Errorf("TLS: got %v, want %v", got, tt.wantTLS)
			}
			if got := o.DialTimeout.Seconds(); got != tt.wantDialS {
				t.Errorf("DialTimeout: got %vs, want %vs", got, tt.wantDialS)
			}
		})
	}
}

func TestParseURL_sentinel(t *testing.T) {
	tests := []struct {
		name         string
		url          string
		wantAddrs    []string
		wantMaster   string
		wantDB       int
		wantUser     string
		wantPass     string
		wantSentUser string
		wantSentPass string
		wantTLS      bool
	}{
		{
			name:       "one_sentinel_default_port",
			url:        "redis+sentinel://sentinel1/mymaster",
			wantAddrs:  []string{"sentinel1:26379"},
			wantMaster: "mymaster",
		},
		{
			name:       "three_sentinels_db_password",
			url:        "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380,s3/tinyscale/5",
			wantAddrs:  []string{"10.0.0.1:26379", "10.0.0.2:26380", "s3:26379"},
			wantMaster: "tinyscale",
			wantDB:     5,
			wantPass:   "s3cret",
		},
		{
			name:         "sentinel_credentials",
			url:          "redis+sentinel://app:pw@h1,h2/m?sentinel_username=sen&sentinel_password=sp",
			wantAddrs:    []string{"h1:26379", "h2:26379"},
			wantMaster:   "m",
			wantUser:     "app",
			wantPass:     "pw",
			wantSentUser: "sen",
			wantSentPass: "sp",
		},
		{
			name:       "escaped_password_and_master",
			url:        "redis+sentinel://:p%2Fw%40x@h/my%20master",
			wantAddrs:  []string{"h:26379"},
			wantMaster: "my master",
			wantPass:   "p/w@x",
		},
		{
			name:       "ipv6_sentinels",
			url:        "redis+sentinel://[::1]:26379,[fe80::1]/m/0",
			wantAddrs:  []string{"[::1]:26379", "[fe80::1]:26379"},
			wantMaster: "m",
		},
		{
			name:       "tls",
			url:        "rediss+sentinel://h:26379/m",
			wantAddrs:  []string{"h:26379"},
			wantMaster: "m",
			wantTLS:    true,
		},
		{
			name:       "uppercase_scheme",
			url:        "REDIS+SENTINEL://h/m",
			wantAddrs:  []string{"h:26379"},
			wantMaster: "m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseURL(tt.url)
			if err != nil {
				t.Fatalf("parseURL: got error %v, want nil", err)
			}
			o := p.failover
			if o == nil || p.standalone != nil {
				t.Fatalf("parseURL: got %+v, want failover options only", p)
			}
			if !reflect.DeepEqual(o.SentinelAddrs, tt.wantAddrs) {
				t.Errorf("SentinelAddrs: got %q, want %q", o.SentinelAddrs, tt.wantAddrs)
			}
			if o.MasterName != tt.wantMaster || o.DB != tt.wantDB {
				t.Errorf("master/db: got %q/%d, want %q/%d", o.MasterName, o.DB, tt.wantMaster, tt.wantDB)
			}
			if o.Username != tt.wantUser || o.Password != tt.wantPass {
				t.Errorf("master credentials: got %q/%q, want %q/%q", o.Username, o.Password, tt.wantUser, tt.wantPass)
			}
			if o.SentinelUsername != tt.wantSentUser || o.SentinelPassword != tt.wantSentPass {
				t.Errorf("sentinel credentials: got %q/%q, want %q/%q", o.SentinelUsername, o.SentinelPassword, tt.wantSentUser, tt.wantSentPass)
			}
			if got := o.TLSConfig != nil; got != tt.wantTLS {
				t.Errorf("TLS: got %v, want %v", got, tt.wantTLS)
			}
		})
	}
}

func TestParseURL_errors(t *testing.T) {
	const secret = "Hunter2Secret"
	tests := []struct {
		name string
		url  string
	}{
		{name: "no_scheme", url: ":" + secret + "@localhost:6379"},
		{name: "unknown_scheme", url: "memcache://:" + secret + "@h/0"},
		{name: "malformed_standalone", url: "redis://:" + secret + "@h:port/0"},
		{name: "password_with_slash_unescaped", url: "redis://:" + secret + "/x@h/0"},
		{name: "bad_db", url: "redis://:" + secret + "@h/db"},
		{name: "unknown_option", url: "redis://:" + secret + "@h/0?colour=blue"},
		{name: "sentinel_no_master", url: "redis+sentinel://:" + secret + "@h:26379"},
		{name: "sentinel_empty_master", url: "redis+sentinel://:" + secret + "@h:26379/"},
		{name: "sentinel_no_host", url: "redis+sentinel://:" + secret + "@/m"},
		{name: "sentinel_empty_host_in_list", url: "redis+sentinel://:" + secret + "@h1,,h2/m"},
		{name: "sentinel_bad_port", url: "redis+sentinel://:" + secret + "@h:0/m"},
		{name: "sentinel_port_too_big", url: "redis+sentinel://:" + secret + "@h:65536/m"},
		{name: "sentinel_bad_db", url: "redis+sentinel://:" + secret + "@h/m/x"},
		{name: "sentinel_negative_db", url: "redis+sentinel://:" + secret + "@h/m/-1"},
		{name: "sentinel_extra_path", url: "redis+sentinel://:" + secret + "@h/m/0/1"},
		{name: "sentinel_unknown_query", url: "redis+sentinel://:" + secret + "@h/m?password=" + secret},
		{name: "sentinel_bad_escape", url: "redis+sentinel://:" + secret + "%zz@h/m"},
		{name: "sentinel_unclosed_ipv6", url: "redis+sentinel://:" + secret + "@[::1/m"},
		{name: "sentinel_fragment", url: "redis+sentinel://:" + secret + "@h/m#" + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseURL(tt.url)
			if !errors.Is(err, errBadURL) {
				t.Fatalf("parseURL: got %v, want an error wrapping errBadURL", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("parseURL error: got %q, which contains the password", err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://h:6379/0",
		"rediss://u:p@h/1?dial_timeout=2s",
		"unix:///tmp/r.sock",
		"redis+sentinel://:pw@h1:26379,h2/master/2?sentinel_password=x",
		"rediss+sentinel://[::1]:1/m",
		"redis+sentinel://a%zz@h/m",
		"redis+sentinel://,/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := parseURL(raw)
		if err != nil {
			if !errors.Is(err, errBadURL) {
				t.Fatalf("parseURL(%q): got error %v, want it to wrap errBadURL", raw, err)
			}
			return
		}
		if (p.standalone == nil) == (p.failover == nil) {
			t.Fatalf("parseURL(%q): got %+v, want exactly one of standalone and failover", raw, p)
		}
		if o := p.failover; o != nil {
			if o.MasterName == "" || len(o.SentinelAddrs) == 0 || o.DB < 0 {
				t.Fatalf("parseURL(%q): got master %q, %d sentinels, db %d; want a master, a sentinel and db >= 0", raw, o.MasterName, len(o.SentinelAddrs), o.DB)
			}
			for _, a := range o.SentinelAddrs {
				if _, err := sentinelAddr(a); err != nil {
					t.Fatalf("parseURL(%q): sentinel address %q does not parse again: %v", raw, a, err)
				}
			}
		}
	})
}

func TestIsURL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "redis", in: "redis://h/0", want: true},
		{name: "rediss", in: "rediss://h/0", want: true},
		{name: "unix", in: "unix:///run/redis.sock", want: true},
		{name: "sentinel", in: "redis+sentinel://h/m", want: true},
		{name: "sentinel_tls", in: "rediss+sentinel://h/m", want: true},
		{name: "upper_case", in: "REDIS://h", want: true},
		{name: "relative_path", in: "tinyscale.db", want: false},
		{name: "absolute_path", in: "/var/lib/tinyscale/tinyscale.db", want: false},
		{name: "path_containing_scheme", in: "./redis://x", want: false},
		{name: "http", in: "http://h", want: false},
		{name: "empty", in: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsURL(tt.in); got != tt.want {
				t.Errorf("IsURL(%q): got %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
