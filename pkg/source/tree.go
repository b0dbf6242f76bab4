package source

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrPathNotFound reports that the configured sub-directory does not exist
// in the fetched commit.
var ErrPathNotFound = errors.New("path not found")

// readCommit reads every regular file under subdir from one commit's tree.
// Reading the objects of a commit, never a work tree, means a snapshot can
// never mix two revisions.
func readCommit(c *object.Commit, subdir string, limit int64, log *slog.Logger) (Snapshot, error) {
	rev := c.Hash.String()
	tree, err := c.Tree()
	if err != nil {
		return Snapshot{}, fmt.Errorf("read tree of %s: %w", rev, err)
	}
	if subdir != "" {
		tree, err = tree.Tree(subdir)
		if errors.Is(err, object.ErrDirectoryNotFound) {
			return Snapshot{}, fmt.Errorf("%w: %q at revision %s", ErrPathNotFound, subdir, rev)
		}
		if err != nil {
			return Snapshot{}, fmt.Errorf("read %q at revision %s: %w", subdir, rev, err)
		}
	}

	snap := Snapshot{Revision: rev, Dir: subdir, Files: map[string][]byte{}}
	err = tree.Files().ForEach(func(f *object.File) error {
		name := f.Name
		if ignored(name) {
			return nil
		}
		switch {
		case f.Mode == filemode.Symlink:
			snap.skip(name, &SymlinkError{Path: name}, log)
			return nil
		case !f.Mode.IsFile():
			return nil
		case f.Size > limit:
			snap.skip(name, &FileTooLargeError{Path: name, Size: f.Size, Limit: limit}, log)
			return nil
		}
		r, err := f.Reader()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		defer r.Close()
		b, err := readLimited(r, name, limit)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		snap.Files[name] = b
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("read tree of %s: %w", rev, err)
	}
	return snap, nil
}

// skip records a file that exists but was not read.
func (s *Snapshot) skip(name string, reason error, log *slog.Logger) {
	if s.Skipped == nil {
		s.Skipped = map[string]error{}
	}
	s.Skipped[name] = reason
	log.Warn("file skipped", "file", name, "revision", s.Revision, "reason", reason.Error())
}
