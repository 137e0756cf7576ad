package bbb_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tinyscale/tinyscale/bbb"
)

// moodleJoinQuery is a join query the size Moodle sends (~400 bytes,
// percent-encoded name, createTime and userdata).
var moodleJoinQuery = "meetingID=" + url.QueryEscape("b6f0c0e8c0b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5-42-17[0]") +
	"&fullName=" + url.QueryEscape("Dr. Ada Lovelace-Byron (Teacher)") +
	"&password=mp-9f8e7d6c5b4a&role=MODERATOR&createTime=1717100000000&userID=1734" +
	"&avatarURL=" + url.QueryEscape("https://moodle.example.edu/pluginfile.php/5/user/icon/boost/f1?rev=123456") +
	"&guest=false&redirect=true&userdata-bbb_show_participants_on_login=true&userdata-bbb_skip_check_audio=false" +
	"&userdata-bbb_override_default_locale=en&userdata-bbb_auto_join_audio=true"

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{bbb.SHA1, bbb.SHA256} {
		b.Run(alg, func(b *testing.B) {
			signed := bbb.Sign(alg, bbb.CallJoin, moodleJoinQuery, vecSecret)
			v := bbb.Verifier{Secret: vecSecret}
			b.ReportAllocs()
			b.SetBytes(int64(len(signed)))
			for b.Loop() {
				if err := v.VerifyQuery(bbb.CallJoin, signed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = bbb.Sign(bbb.SHA256, bbb.CallJoin, moodleJoinQuery, vecSecret)
	}
}

func BenchmarkParseQuery(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(moodleJoinQuery)))
	for b.Loop() {
		_ = bbb.ParseQuery(moodleJoinQuery)
	}
}

// meetingsBody is a getMeetings answer of server s with n meetings.
func meetingsBody(s, n int) []byte {
	var b strings.Builder
	b.WriteString("<response><returncode>SUCCESS</returncode><meetings>")
	for i := range n {
		id := fmt.Sprintf("srv%d-room%d", s, i)
		fmt.Fprintf(&b, "<meeting><meetingName>Room %d</meetingName><meetingID>%s</meetingID><internalMeetingID>%s</internalMeetingID>"+
			"<createTime>1717000000000</createTime><createDate>Wed May 29 16:26:40 UTC 2024</createDate><voiceBridge>7%04d</voiceBridge>"+
			"<dialNumber>613-555-1234</dialNumber><attendeePW>ap</attendeePW><moderatorPW>mp</moderatorPW><running>true</running>"+
			"<duration>0</duration><hasUserJoined>true</hasUserJoined><recording>false</recording><hasBeenForciblyEnded>false</hasBeenForciblyEnded>"+
			"<startTime>1717000000010</startTime><endTime>0</endTime><participantCount>12</participantCount><listenerCount>3</listenerCount>"+
			"<voiceParticipantCount>8</voiceParticipantCount><videoCount>2</videoCount><maxUsers>0</maxUsers><moderatorCount>1</moderatorCount>"+
			"<attendees><attendee><userID>w_1</userID><fullName>A</fullName><role>MODERATOR</role><isPresenter>true</isPresenter>"+
			"<isListeningOnly>false</isListeningOnly><hasJoinedVoice>true</hasJoinedVoice><hasVideo>false</hasVideo><clientType>HTML5</clientType></attendee></attendees>"+
			"<metadata><bbb-origin>Moodle</bbb-origin><endcallbackurl>https://lb.example.net/callbacks/end/%d</endcallbackurl></metadata>"+
			"<isBreakout>false</isBreakout></meeting>", i, id, bbb.InternalMeetingID(id, 1717000000000), i, i)
	}
	b.WriteString("</meetings></response>")
	return []byte(b.String())
}

func BenchmarkMergeMeetings(b *testing.B) {
	bodies := make([][]byte, 50)
	size := 0
	for s := range bodies {
		bodies[s] = meetingsBody(s, 20)
		size += len(bodies[s])
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		if _, err := bbb.MergeMeetings(bodies); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMeetings(b *testing.B) {
	body := meetingsBody(0, 20)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := bbb.ParseMeetings(body); err != nil {
			b.Fatal(err)
		}
	}
}

// recordingsBody is a getRecordings answer of server s with n recordings.
func recordingsBody(s, n int) []byte {
	var b strings.Builder
	b.WriteString("<response><returncode>SUCCESS</returncode><recordings>")
	for i := range n {
		id := bbb.InternalMeetingID(fmt.Sprintf("course-%d", i%200), 1700000000000+int64(s*n+i)*1000)
		state := "published"
		if i%10 == 0 {
			state = "unpublished"
		}
		fmt.Fprintf(&b, "<recording><recordID>%s</recordID><meetingID>course-%d</meetingID><internalMeetingID>%s</internalMeetingID>"+
			"<name>Course %d</name><isBreakout>false</isBreakout><published>%v</published><state>%s</state><startTime>%d</startTime>"+
			"<endTime>%d</endTime><participants>9</participants><metadata><bbb-origin>Moodle</bbb-origin><bbb-context-id>%d</bbb-context-id></metadata>"+
			"<playback><format><type>presentation</type><url>https://bbb%d.example.org/playback/presentation/2.3/%s</url>"+
			"<processingTime>900</processingTime><length>50</length></format></playback></recording>",
			id, i%200, id, i, state == "published", state, 1700000000000+int64(i)*1000, 1700000600000+int64(i)*1000, i%50, s, id)
	}
	b.WriteString("</recordings></response>")
	return []byte(b.String())
}

func BenchmarkApplyRecordings(b *testing.B) {
	var all []bbb.Recording
	for s := range 3 {
		rs, err := bbb.ParseRecordings(recordingsBody(s, 1000))
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, rs...)
	}
	f, _ := bbb.RecordingFilterFromQuery(bbb.ParseQuery("limit=25&offset=100&meta_bbb-origin=Mood%25"))
	b.ReportAllocs()
	for b.Loop() {
		page, total := bbb.ApplyRecordings(all, f)
		if len(page) != 25 || total != 3000 {
			b.Fatalf("got %d of %d", len(page), total)
		}
		_ = bbb.RecordingsXML(page, total, true)
	}
}

func BenchmarkParseRecordings(b *testing.B) {
	body := recordingsBody(0, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := bbb.ParseRecordings(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewriteMetadata(b *testing.B) {
	ms, err := bbb.ParseMeetings(meetingsBody(0, 1))
	if err != nil {
		b.Fatal(err)
	}
	raw := ms[0].Raw
	b.ReportAllocs()
	for b.Loop() {
		_ = bbb.RewriteMetadata(raw, relayToOrigin)
	}
}
