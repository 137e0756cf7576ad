package callback_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tinyscale/tinyscale/callback"
)

// FuzzTokens_Parse feeds arbitrary strings to the token parser: it must
// never panic, and anything it accepts must carry a known kind and be a
// token this key issued (re-issuing its claims gives a parseable token).
func FuzzTokens_Parse(f *testing.F) {
	tk := callback.NewTokens("fuzz-secret", func() time.Time { return t0 })
	for _, c := range []callback.Claims{
		{Kind: callback.KindRecordingReady, Target: "https://gl.example.org/rr", MeetingID: "m", ServerID: "s"},
		{Kind: callback.KindHook, HookID: "1", ServerID: "s", Base: "http://lb"},
	} {
		tok, err := tk.Issue(c, time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tk.Parse(s)
		if err != nil {
			return
		}
		if !callback.ValidKind(c.Kind) {
			t.Fatalf("accepted token with kind %q", c.Kind)
		}
		if _, err := tk.Decode(s); err != nil {
			t.Fatalf("Parse accepted but Decode refused: %v", err)
		}
	})
}

// FuzzSplitPath checks that relay paths split without panics and that a
// split result rebuilds the same relay URL.
func FuzzSplitPath(f *testing.F) {
	f.Add("/tinyscale/callback/recording-ready/abc")
	f.Add("hook/x")
	f.Add("/tinyscale/callback//")
	f.Add("/tinyscale/callback/ended/a/b")
	f.Fuzz(func(t *testing.T, p string) {
		kind, tok, ok := callback.SplitPath(p)
		if !ok {
			return
		}
		if !callback.ValidKind(kind) || tok == "" || strings.Contains(tok, "/") {
			t.Fatalf("SplitPath(%q) = (%q, %q), want a known kind and a one-segment token", p, kind, tok)
		}
		k2, t2, ok := callback.ParseURL(callback.URL("http://lb", kind, tok))
		if !ok || k2 != kind || t2 != tok {
			t.Fatalf("round trip of (%q, %q): got (%q, %q, %v)", kind, tok, k2, t2, ok)
		}
	})
}

// FuzzVerifyHookChecksum checks that verification never panics and that
// a checksum made by HookChecksum always verifies.
func FuzzVerifyHookChecksum(f *testing.F) {
	f.Add("http://lb/tinyscale/callback/hook/t", []byte("domain=a&event=%5B%5D&timestamp=1"), "secret", "")
	f.Add("", []byte{}, "", "zz")
	f.Fuzz(func(t *testing.T, u string, body []byte, secret, sum string) {
		_ = callback.VerifyHookChecksum(u, body, sum, secret)
		if secret == "" {
			return
		}
		for _, alg := range []string{"sha1", "sha256", "sha384", "sha512"} {
			if err := callback.VerifyHookChecksum(u, body, callback.HookChecksum(alg, u, body, secret), secret); err != nil {
				t.Fatalf("%s checksum does not verify: %v", alg, err)
			}
		}
	})
}
