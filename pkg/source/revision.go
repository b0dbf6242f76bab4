package source

import (
	"fmt"
	"log/slog"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// ReadRevision reads one commit of a local git repository (a work tree,
// or a bare repository) as a Snapshot: every regular file under subdir at
// rev. rev is anything go-git resolves: a branch, a tag, a remote branch
// (origin/main), a hash or HEAD~1. It is what `reconciler plan --offline`
// compares, e.g. the two sides of a pull request, without AWS and without
// fetching anything.
func ReadRevision(repoPath, rev, subdir string, log *slog.Logger) (Snapshot, error) {
	sub, err := cleanSubdir(subdir)
	if err != nil {
		return Snapshot{}, err
	}
	repo, err := git.PlainOpenWithOptions(repoPath, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return Snapshot{}, fmt.Errorf("open git repository %s: %w", repoPath, err)
	}
	hash, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return Snapshot{}, fmt.Errorf("resolve %q in %s: %w", rev, repoPath, err)
	}
	c, err := repo.CommitObject(*hash)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read commit %s: %w", hash, err)
	}
	return readCommit(c, sub, DefaultMaxFileSize, orDiscard(log))
}
