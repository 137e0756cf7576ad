// Package e2e holds end-to-end tests that run the real binaries —
// tinyscale and fakebbb processes — and drive them over HTTP the way front
// ends and operators do: the done-criteria of each capability, crash and
// restart with kill -9, several instances on one Redis, graceful shutdown,
// and a real third-party BBB client library from npm.
package e2e
