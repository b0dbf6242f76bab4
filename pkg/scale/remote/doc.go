// Package remote runs the scheduler's client programs for the fleet loop:
// Local on the machine the daemon runs on (a daemon on the head node, and
// the tests), SSH on a remote head node with the host key checked against
// a known_hosts file. Both implement scale.Runner.
package remote
