// Package source owns the cluster repo: cloning and fetching it with go-git,
// reading one whole commit as a snapshot, and a local-directory mode watched
// with fsnotify for quick experiments.
//
// It hands out file contents and a revision; it never parses specs.
package source
