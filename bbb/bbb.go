// Package bbb implements the BigBlueButton API protocol as tinyscale needs
// it: raw query parsing, checksum verification and signing exactly as BBB
// does them, request and response envelopes, and a client for calling a BBB
// server. It imports only the standard library.
package bbb

// API call names, as they appear after /bigbluebutton/api/.
const (
	CallIndex                  = ""
	CallCreate                 = "create"
	CallJoin                   = "join"
	CallEnd                    = "end"
	CallIsMeetingRunning       = "isMeetingRunning"
	CallGetMeetingInfo         = "getMeetingInfo"
	CallGetMeetings            = "getMeetings"
	CallGetRecordings          = "getRecordings"
	CallPublishRecordings      = "publishRecordings"
	CallUpdateRecordings       = "updateRecordings"
	CallDeleteRecordings       = "deleteRecordings"
	CallGetRecordingTextTracks = "getRecordingTextTracks"
	CallPutRecordingTextTrack  = "putRecordingTextTrack"
	CallInsertDocument         = "insertDocument"
	CallSendChatMessage        = "sendChatMessage"
	CallGetSessions            = "getSessions"
	CallHooksCreate            = "hooks/create"
	CallHooksList              = "hooks/list"
	CallHooksDestroy           = "hooks/destroy"
)

// Parameter names.
const (
	ParamChecksum         = "checksum"
	ParamMeetingID        = "meetingID"
	ParamName             = "name"
	ParamFullName         = "fullName"
	ParamAttendeePW       = "attendeePW"
	ParamModeratorPW      = "moderatorPW"
	ParamPassword         = "password"
	ParamRole             = "role"
	ParamRedirect         = "redirect"
	ParamErrorRedirectURL = "errorRedirectUrl"
	ParamCreateTime       = "createTime"
	ParamRecordID         = "recordID"
	ParamPublish          = "publish"
	ParamState            = "state"
	ParamOffset           = "offset"
	ParamLimit            = "limit"
	ParamRecord           = "record"
	ParamMeetingEndedURL  = "meetingEndedURL"
	ParamCallbackURL      = "callbackURL"
	ParamHookID           = "hookID"
	ParamEventID          = "eventID"
	ParamGetRaw           = "getRaw"
	ParamMetaPrefix       = "meta_"
	MetaEndCallbackURL    = "meta_endCallbackUrl"
	MetaRecordingReadyURL = "meta_bbb-recording-ready-url"
	MetaAnalyticsCallback = "meta_analytics-callback-url"
	MetaServerTag         = "meta_server-tag"
)

// APIPath is the path prefix of every BBB API call.
const APIPath = "/bigbluebutton/api/"
