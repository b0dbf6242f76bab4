// Package source owns the cluster repo: cloning and fetching it with go-git
// (over a local path, smart HTTP with a token, or SSH with a strictly checked
// host key), reading one whole commit as a snapshot, refusing heads not
// signed by a trusted OpenPGP key when asked to, a local-directory mode
// watched with fsnotify for quick experiments, and the webhook receiver
// that asks for a fetch as soon as a push is announced.
//
// It hands out file contents and a revision; it never parses specs.
package source
