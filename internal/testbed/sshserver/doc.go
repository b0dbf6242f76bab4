// Package sshserver starts a real OpenSSH server (Debian's openssh-server)
// on 127.0.0.1 for tests, with a generated host key and a generated user
// key, so that git over SSH is tested against the program it meets in
// production.
//
// It is test support only; production code must not import it.
package sshserver
