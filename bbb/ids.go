package bbb

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
)

// MeetingHash returns sha1hex(meetingID), lower case: the first part of
// the internal meeting ID and of every recordID of that meeting.
func MeetingHash(meetingID string) string {
	sum := sha1.Sum([]byte(meetingID))
	return hex.EncodeToString(sum[:])
}

// InternalMeetingID returns the internal meeting ID BBB gives a meeting
// created at createTimeMillis: sha1hex(meetingID) + "-" + createTimeMillis.
func InternalMeetingID(meetingID string, createTimeMillis int64) string {
	return MeetingHash(meetingID) + "-" + strconv.FormatInt(createTimeMillis, 10)
}

// SplitRecordID splits a recordID (an internal meeting ID) into the
// sha1hex of the external meeting ID and the creation time in Unix
// milliseconds. ok is false unless recordID is exactly 40 lower-case hex
// digits, '-', and a non-negative decimal int64.
func SplitRecordID(recordID string) (hash string, ms int64, ok bool) {
	if len(recordID) < 42 || recordID[40] != '-' {
		return "", 0, false
	}
	for i := 0; i < 40; i++ {
		c := recordID[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", 0, false
		}
	}
	digits := recordID[41:]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", 0, false
		}
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return recordID[:40], ms, true
}
