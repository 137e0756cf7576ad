'use strict'
// Drives a running tinyscale (TINYSCALE_URL, e.g. http://127.0.0.1:3005/bigbluebutton,
// and TINYSCALE_SECRET) with bigbluebutton-js, a third-party BBB client
// library, exactly as an application would.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const bbb = require('bigbluebutton-js')

const base = process.env.TINYSCALE_URL
const secret = process.env.TINYSCALE_SECRET
if (!base || !secret) {
  throw new Error('set TINYSCALE_URL and TINYSCALE_SECRET')
}
const api = bbb.api(base, secret)
const call = bbb.http

async function eventually(what, fn, ms = 20000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('create, join (followed to the server), getMeetingInfo, end', async () => {
  const id = 'npm-room-' + Date.now()
  const created = await call(api.administration.create('Physics 101', id, {
    attendeePW: 'ap', moderatorPW: 'mp', record: true, 'meta_bbb-origin': 'npm test',
  }))
  assert.equal(created.returncode, 'SUCCESS')
  assert.equal(String(created.meetingID), id)

  const again = await call(api.administration.create('Physics 101', id, { attendeePW: 'ap', moderatorPW: 'mp' }))
  assert.equal(again.returncode, 'SUCCESS')
  assert.equal(again.messageKey, 'duplicateWarning')

  const joinUrl = api.administration.join('Ada Lovelace', id, 'mp', { userID: 'u-1' })
  const first = await fetch(joinUrl, { redirect: 'manual' })
  assert.equal(first.status, 302)
  const target = first.headers.get('location')
  assert.ok(!target.startsWith(base), 'join must redirect to the BBB server, got ' + target)
  // The browser follows the redirect to the server, which must accept it.
  const page = await fetch(target, { redirect: 'follow' })
  assert.equal(page.status, 200)
  assert.match(page.url, /\/html5client\/join\?sessionToken=/)

  const info = await call(api.monitoring.getMeetingInfo(id))
  assert.equal(info.returncode, 'SUCCESS')
  assert.equal(info.participantCount, 1)
  assert.equal(info.running, true)
  assert.equal(info.metadata['bbb-origin'], 'npm test')

  const running = await call(api.monitoring.isMeetingRunning(id))
  assert.equal(running.running, true)

  const meetings = await call(api.monitoring.getMeetings())
  assert.ok(meetings.meetings.some((m) => String(m.meetingID) === id))

  const ended = await call(api.administration.end(id, 'mp'))
  assert.equal(ended.returncode, 'SUCCESS')
  assert.equal(ended.messageKey, 'sentEndMeetingRequest')

  await eventually('the meeting to end', async () => {
    const r = await call(api.monitoring.isMeetingRunning(id))
    return r.running === false
  })
})

test('unknown meetings answer like BBB', async () => {
  const info = await call(api.monitoring.getMeetingInfo('no-such-meeting'))
  assert.equal(info.returncode, 'FAILED')
  assert.equal(info.messageKey, 'notFound')
  const running = await call(api.monitoring.isMeetingRunning('no-such-meeting'))
  assert.equal(running.returncode, 'SUCCESS')
  assert.equal(running.running, false)
})

test('a wrong secret gets checksumError', async () => {
  const wrong = bbb.api(base, secret + 'x')
  const r = await call(wrong.monitoring.getMeetings())
  assert.equal(r.returncode, 'FAILED')
  assert.equal(r.messageKey, 'checksumError')
})

test('recordings: list, publish, update, delete', async () => {
  const id = 'npm-rec-' + Date.now()
  const created = await call(api.administration.create('Recorded', id, { record: true, 'meta_course': 'bio' }))
  assert.equal(created.returncode, 'SUCCESS')
  const page = await fetch(api.administration.join('Rec Tester', id, created.moderatorPW), { redirect: 'follow' })
  assert.equal(page.status, 200)
  await call(api.administration.end(id, created.moderatorPW))

  const rec = await eventually('the recording', async () => {
    const r = await call(api.recording.getRecordings({ meetingID: id }))
    return r.returncode === 'SUCCESS' && r.recordings.length === 1 ? r.recordings[0] : null
  })
  const recordID = String(rec.recordID)
  assert.equal(String(rec.meetingID), id)
  assert.equal(rec.state, 'published')
  assert.equal(rec.metadata.course, 'bio')

  const unpub = await call(api.recording.publishRecordings(recordID, false))
  assert.equal(unpub.returncode, 'SUCCESS')
  const afterUnpub = await call(api.recording.getRecordings({ recordID }))
  assert.equal(afterUnpub.recordings[0].state, 'unpublished')

  const upd = await call(api.recording.updateRecordings(recordID, { 'meta_course': 'chem' }))
  assert.equal(upd.returncode, 'SUCCESS')
  const afterUpd = await call(api.recording.getRecordings({ recordID }))
  assert.equal(afterUpd.recordings[0].metadata.course, 'chem')

  const del = await call(api.recording.deleteRecordings(recordID))
  assert.equal(del.returncode, 'SUCCESS')
  const gone = await call(api.recording.getRecordings({ recordID }))
  assert.equal(gone.messageKey, 'noRecordings')
})
