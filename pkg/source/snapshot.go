package source

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strings"
)

// DefaultMaxFileSize is the largest file a snapshot reads when the
// configuration does not say otherwise. Cluster specs are a few kilobytes;
// anything near this size is a mistake (a build artefact, a tarball) that
// would otherwise be held in memory on every cycle.
const DefaultMaxFileSize int64 = 1 << 20

// Snapshot is one whole commit (or one read of a local directory).
// The daemon treats it as immutable: callers must not modify Files.
type Snapshot struct {
	// Revision is the commit hash; for Dir mode a content hash like
	// "dir:<sha256-prefix>".
	Revision string
	// Dir is the repo sub-directory the paths of Files are relative to,
	// slash-separated; empty for the repo root and for a local directory.
	// Messages for people name path.Join(Dir, file), the path in the repo.
	Dir string
	// Files holds every regular file under the configured sub-directory,
	// keyed by slash path relative to that sub-directory.
	Files map[string][]byte
	// Skipped names files that exist in the tree but whose content was not
	// read (too large, a symlink), with the reason. A caller must not treat
	// a skipped file as deleted: the cluster it declares still exists.
	Skipped map[string]error
}

// Source hands out snapshots of the cluster repo. It is the one method the
// daemon loop needs, so that a git remote and a local directory are
// interchangeable.
type Source interface {
	Fetch(ctx context.Context) (Snapshot, error)
}

var (
	_ Source = (*Git)(nil)
	_ Source = (*Dir)(nil)
)

// FileTooLargeError reports a file skipped because it exceeds the size limit.
type FileTooLargeError struct {
	Path  string
	Size  int64
	Limit int64
}

// Error implements error.
func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("%s: %d bytes exceeds the %d byte limit", e.Path, e.Size, e.Limit)
}

// SymlinkError reports a symbolic link skipped: its target may lie outside
// the repo, and git stores only the link text.
type SymlinkError struct {
	Path string
}

// Error implements error.
func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s: symbolic link skipped", e.Path)
}

// ignored reports whether a slash path has a component beginning with
// ".git" (.git, .gitignore, .gitattributes, .github, .gitlab-ci.yml):
// repository plumbing, never cluster specs.
func ignored(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if strings.HasPrefix(part, ".git") {
			return true
		}
	}
	return false
}

// readLimited reads at most limit bytes from r and fails with a
// FileTooLargeError when there is more, so that a file that grows between
// stat and read is still caught.
func readLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &FileTooLargeError{Path: name, Size: int64(len(b)), Limit: limit}
	}
	return b, nil
}

// contentHash hashes file paths and contents in a canonical order: the
// revision of a snapshot that has no commit.
func contentHash(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	var n [8]byte
	for _, name := range names {
		binary.BigEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.BigEndian.PutUint64(n[:], uint64(len(files[name])))
		h.Write(n[:])
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cleanSubdir normalises a configured sub-directory to a slash path with no
// leading or trailing slash; "" and "." mean the root.
func cleanSubdir(p string) (string, error) {
	p = strings.Trim(strings.ReplaceAll(p, "\\", "/"), "/")
	if p == "" {
		return "", nil
	}
	p = path.Clean(p)
	if p == "." {
		return "", nil
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("path %q leaves the repository", p)
	}
	return p, nil
}

// orDiscard returns log, or a logger that drops everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
