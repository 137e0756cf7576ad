package bbb_test

import (
	"maps"
	"reflect"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want bbb.Query
	}{
		{name: "empty", raw: "", want: nil},
		{name: "order_and_duplicates_kept", raw: "b=2&a=1&b=3", want: bbb.Query{
			{RawName: "b", RawValue: "2", Name: "b", Value: "2"},
			{RawName: "a", RawValue: "1", Name: "a", Value: "1"},
			{RawName: "b", RawValue: "3", Name: "b", Value: "3"},
		}},
		{name: "semicolon_is_ordinary", raw: "a=1;b=2&c=3", want: bbb.Query{
			{RawName: "a", RawValue: "1;b=2", Name: "a", Value: "1;b=2"},
			{RawName: "c", RawValue: "3", Name: "c", Value: "3"},
		}},
		{name: "plus_and_percent_decode", raw: "n=Test+Meeting&m=a%20b%2Bc", want: bbb.Query{
			{RawName: "n", RawValue: "Test+Meeting", Name: "n", Value: "Test Meeting"},
			{RawName: "m", RawValue: "a%20b%2Bc", Name: "m", Value: "a b+c"},
		}},
		{name: "bad_escapes_kept_raw", raw: "a=%zz&b%=1&c=100%", want: bbb.Query{
			{RawName: "a", RawValue: "%zz", Name: "a", Value: "%zz"},
			{RawName: "b%", RawValue: "1", Name: "b%", Value: "1"},
			{RawName: "c", RawValue: "100%", Name: "c", Value: "100%"},
		}},
		{name: "bad_escape_keeps_plus", raw: "a=x+%zz", want: bbb.Query{{RawName: "a", RawValue: "x+%zz", Name: "a", Value: "x+%zz"}}},
		{name: "empty_parts_skipped", raw: "&a=1&&b=2&", want: bbb.Query{
			{RawName: "a", RawValue: "1", Name: "a", Value: "1"},
			{RawName: "b", RawValue: "2", Name: "b", Value: "2"},
		}},
		{name: "no_equals", raw: "flag&a=", want: bbb.Query{
			{RawName: "flag", Name: "flag", NoEq: true},
			{RawName: "a", Name: "a"},
		}},
		{name: "second_equals_in_value", raw: "u=https://x/?a=b", want: bbb.Query{{RawName: "u", RawValue: "https://x/?a=b", Name: "u", Value: "https://x/?a=b"}}},
		{name: "encoded_name", raw: "meta%5Fx=1", want: bbb.Query{{RawName: "meta%5Fx", RawValue: "1", Name: "meta_x", Value: "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bbb.ParseQuery(tt.raw); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestQuery_GetLookup(t *testing.T) {
	q := bbb.ParseQuery("a=1&a=2&e=&f")
	tests := []struct {
		name, key, want string
		ok              bool
	}{
		{name: "first_value_wins", key: "a", want: "1", ok: true},
		{name: "present_empty", key: "e", want: "", ok: true},
		{name: "present_no_equals", key: "f", want: "", ok: true},
		{name: "absent", key: "x", want: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := q.Lookup(tt.key)
			if v != tt.want || ok != tt.ok || q.Get(tt.key) != tt.want {
				t.Errorf("got (%q, %v), want (%q, %v)", v, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestQuery_Encode(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{name: "round_trip", raw: "name=Test+Meeting&meetingID=a%2Fb&x=%7e&a=1;b", want: "name=Test+Meeting&meetingID=a%2Fb&x=%7e&a=1;b"},
		{name: "bad_escape_round_trip", raw: "a=%zz&b=100%", want: "a=%zz&b=100%"},
		{name: "empty_parts_dropped", raw: "a=1&&b=2", want: "a=1&b=2"},
		{name: "empty", raw: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bbb.ParseQuery(tt.raw).Encode(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("pair_without_equals", func(t *testing.T) {
		if got := bbb.ParseQuery("flag&a=1").Encode(); got != "flag&a=1" {
			t.Errorf("got %q, want %q", got, "flag&a=1")
		}
	})
}

func TestQuery_SetDel(t *testing.T) {
	orig := bbb.ParseQuery("a=1&b=2&a=3")
	tests := []struct {
		name string
		got  bbb.Query
		want string
	}{
		{name: "set_replaces_first_drops_rest", got: orig.Set("a", "x y"), want: "a=x+y&b=2"},
		{name: "set_appends", got: orig.Set("c", "&"), want: "a=1&b=2&a=3&c=%26"},
		{name: "del_removes_all", got: orig.Del("a"), want: "b=2"},
		{name: "del_absent", got: orig.Del("z"), want: "a=1&b=2&a=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got.Encode(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := orig.Encode(); got != "a=1&b=2&a=3" {
		t.Errorf("original changed: got %q", got)
	}
	if v := orig.Set("a", "x y").Get("a"); v != "x y" {
		t.Errorf("decoded value after Set: got %q, want %q", v, "x y")
	}
}

func TestQuery_Meta(t *testing.T) {
	q := bbb.ParseQuery("meta_endCallbackUrl=https%3A%2F%2Fx&meta_bbb-origin=Moodle&meta_a_b=1&meta_1a=2&meta_=3&META_x=4" +
		"&meta_Bbb-Origin=later&meta%5Fenc=5&meta_x-Y9=6&name=n")
	want := map[string]string{
		"endcallbackurl": "https://x",
		"bbb-origin":     "Moodle",
		"enc":            "5",
		"x-y9":           "6",
	}
	if got := q.Meta(); !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := bbb.ParseQuery("a=1").Meta(); got != nil {
		t.Errorf("no meta: got %v, want nil", got)
	}
}

func TestMetaKey(t *testing.T) {
	tests := []struct {
		name, param, want string
		ok                bool
	}{
		{name: "camel_case", param: "meta_endCallbackUrl", want: "endcallbackurl", ok: true},
		{name: "hyphen", param: "meta_bbb-recording-ready-url", want: "bbb-recording-ready-url", ok: true},
		{name: "digits", param: "meta_a1", want: "a1", ok: true},
		{name: "underscore_rejected", param: "meta_a_b", ok: false},
		{name: "leading_digit", param: "meta_1a", ok: false},
		{name: "leading_hyphen", param: "meta_-a", ok: false},
		{name: "empty_key", param: "meta_", ok: false},
		{name: "upper_prefix", param: "Meta_a", ok: false},
		{name: "no_prefix", param: "name", ok: false},
		{name: "dot", param: "meta_a.b", ok: false},
		{name: "non_ascii", param: "meta_é", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := bbb.MetaKey(tt.param)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got (%q, %v), want (%q, %v)", got, ok, tt.want, tt.ok)
			}
		})
	}
}
