package bbb_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

func TestParseHooks(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		got, err := bbb.ParseHooks(readTestdata(t, "hooks_list.xml"))
		if err != nil {
			t.Fatalf("got error %v, want nil", err)
		}
		want := []bbb.HookEntry{
			{HookID: "7", CallbackURL: "https://app.example.com/bbb/events?room=1&x=y", MeetingID: "room1", EventID: "meeting-created,user-joined", RawData: true},
			{HookID: "8", CallbackURL: "https://app.example.com/bbb/all", PermanentHook: true},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("empty", func(t *testing.T) {
		got, err := bbb.ParseHooks([]byte("<response><returncode>SUCCESS</returncode><hooks/></response>"))
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v; want no hooks, nil", got, err)
		}
	})
	t.Run("failed", func(t *testing.T) {
		_, err := bbb.ParseHooks([]byte("<response><returncode>FAILED</returncode><messageKey>listHookError</messageKey><message>An error happened while retrieving the list of hooks.</message></response>"))
		var e *bbb.Error
		if !errors.As(err, &e) || e.Key != "listHookError" {
			t.Errorf("got error %v, want *Error listHookError", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		if _, err := bbb.ParseHooks([]byte("bbb-webhooks API up!")); !errors.Is(err, bbb.ErrMalformed) {
			t.Errorf("got error %v, want ErrMalformed", err)
		}
	})
}

func TestParseHookCreate(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		wantID    string
		wantSt    bbb.Status
		malformed bool
	}{
		{name: "created", file: "hooks_create.xml", wantID: "12", wantSt: bbb.Status{ReturnCode: "SUCCESS"}},
		{name: "duplicate", file: "hooks_create_duplicate.xml", wantID: "12",
			wantSt: bbb.Status{ReturnCode: "SUCCESS", MessageKey: "duplicateWarning", Message: "There is already a hook for this callback URL."}},
		{name: "failed", file: "hooks_create_failed.xml",
			wantSt: bbb.Status{ReturnCode: "FAILED", MessageKey: "missingParamCallbackURL", Message: "You must specify a callbackURL in the parameters."}},
		{name: "malformed", file: "texttracks.json", malformed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, st, err := bbb.ParseHookCreate(readTestdata(t, tt.file))
			if tt.malformed {
				if !errors.Is(err, bbb.ErrMalformed) {
					t.Errorf("got error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if id != tt.wantID || st != tt.wantSt {
				t.Errorf("got (%q, %+v), want (%q, %+v)", id, st, tt.wantID, tt.wantSt)
			}
		})
	}
}
