package bolt

import (
	"encoding/binary"
	"time"
)

// createdPrefixLen is the length of the time part of a created-at index key.
const createdPrefixLen = 12

// createdPrefix encodes t so that byte order equals time order: the Unix
// seconds as a big-endian int64 with the sign bit flipped, then the
// nanoseconds within the second as a big-endian uint32. It is exact for
// every time.Time, including the zero value and times before 1970, and is
// independent of t's location.
func createdPrefix(t time.Time) []byte {
	b := make([]byte, createdPrefixLen, createdPrefixLen+64)
	binary.BigEndian.PutUint64(b, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
	return b
}

// createdKey is the index key of meeting id created at t.
func createdKey(t time.Time, id string) []byte {
	return append(createdPrefix(t), id...)
}

// parseCreatedKey splits an index key into its time and meeting ID. ok is
// false if k is too short or its nanosecond part is out of range.
func parseCreatedKey(k []byte) (t time.Time, id string, ok bool) {
	if len(k) < createdPrefixLen {
		return time.Time{}, "", false
	}
	sec := int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
	nsec := binary.BigEndian.Uint32(k[8:])
	if nsec >= 1e9 {
		return time.Time{}, "", false
	}
	return time.Unix(sec, int64(nsec)).UTC(), string(k[createdPrefixLen:]), true
}
