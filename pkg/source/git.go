package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// DefaultBranch is the branch followed when GitConfig.Branch is empty.
const DefaultBranch = "main"

// ErrBranchNotFound reports that the remote has no such branch (or no
// branches at all).
var ErrBranchNotFound = errors.New("branch not found")

// remoteName is the name of the one remote in the cache repository.
const remoteName = "origin"

// GitConfig says which repository, branch and sub-directory to follow and
// where to keep the local clone. Secrets are never part of it: it only names
// the files or environment variables that hold them.
type GitConfig struct {
	// URL of the repository: file:///abs/path, a plain local path, an
	// http(s):// URL for smart HTTP, or ssh://user@host[:port]/path and
	// user@host:path for SSH.
	URL string
	// Branch to follow; DefaultBranch when empty.
	Branch string
	// Path is the sub-directory of the repository that holds the specs; ""
	// is the root.
	Path string
	// CacheDir holds the local bare clone. It is created when missing; a
	// non-empty directory that is not a clone made by this package is never
	// touched.
	CacheDir string
	// MaxFileSize is the largest file read into a snapshot; larger files
	// are listed in Snapshot.Skipped. DefaultMaxFileSize when zero.
	MaxFileSize int64

	// Username is the HTTP(S) user name sent with the password;
	// DefaultHTTPUser when empty. It is not a secret.
	Username string
	// PasswordFile names a file holding the HTTP(S) password or access
	// token. At most one of PasswordFile and PasswordEnv may be set.
	PasswordFile string
	// PasswordEnv names an environment variable holding the HTTP(S)
	// password or access token.
	PasswordEnv string

	// CAFile names a PEM file of certificate authorities trusted for an
	// https:// URL in addition to the system's, for a server with a private
	// CA.
	CAFile string

	// SSHKeyFile names the private key file for SSH URLs (OpenSSH or PEM
	// format). The SSH user comes from the URL ("git" when it has none).
	SSHKeyFile string
	// SSHKeyPassphraseFile names a file holding the key's passphrase, if it
	// has one; SSHKeyPassphraseEnv names an environment variable instead.
	SSHKeyPassphraseFile string
	SSHKeyPassphraseEnv  string
	// KnownHostsFile names the known_hosts file the server's host key is
	// checked against, strictly: an unknown or changed key is an error.
	// Required for SSH unless InsecureIgnoreHostKey is set.
	KnownHostsFile string
	// InsecureIgnoreHostKey accepts any SSH host key, which lets anyone on
	// the network path serve the cluster repo. For test beds only; it is
	// logged as a warning.
	InsecureIgnoreHostKey bool

	// TrustedKeysFile names a file of armored OpenPGP public keys. When set,
	// a branch head that is not signed by one of them is refused with an
	// *UntrustedError. The file is read on every fetch, so a key can be
	// added or revoked without a restart.
	TrustedKeysFile string
}

// Git follows one branch of a remote repository. It keeps a bare clone in
// CacheDir, asks the remote for the branch head on every Fetch, and fetches
// objects only when the head moved. It is safe for concurrent use; fetches
// are serialised.
type Git struct {
	cfg     GitConfig
	url     string // what go-git dials
	display string // the URL with any password removed, for errors and logs
	kind    transportKind
	subdir  string
	limit   int64
	log     *slog.Logger

	mu   sync.Mutex
	repo *git.Repository
	last Snapshot
}

// NewGit checks cfg and returns a Git source. It does no I/O: the clone is
// made by the first Fetch, so a daemon can start while the remote is down.
func NewGit(cfg GitConfig, log *slog.Logger) (*Git, error) {
	if cfg.URL == "" {
		return nil, errors.New("git source: url is required")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("git source: cache directory is required")
	}
	if cfg.Branch == "" {
		cfg.Branch = DefaultBranch
	}
	if !plumbing.NewBranchReferenceName(cfg.Branch).IsBranch() || strings.ContainsAny(cfg.Branch, " ~^:?*[\\") {
		return nil, fmt.Errorf("git source: invalid branch name %q", cfg.Branch)
	}
	if cfg.MaxFileSize < 0 {
		return nil, fmt.Errorf("git source: negative max file size %d", cfg.MaxFileSize)
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	subdir, err := cleanSubdir(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("git source: %w", err)
	}
	u, err := normaliseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("git source: %w", err)
	}
	kind := kindOf(u)
	if err := checkAuth(cfg, kind); err != nil {
		return nil, fmt.Errorf("git source: %w", err)
	}
	display := redactURL(u)
	g := &Git{
		cfg:     cfg,
		url:     u,
		display: display,
		kind:    kind,
		subdir:  subdir,
		limit:   cfg.MaxFileSize,
		log:     orDiscard(log).With("repo", display, "branch", cfg.Branch),
	}
	if cfg.InsecureIgnoreHostKey {
		g.log.Warn("SSH HOST KEY CHECKING IS OFF: anyone on the network path can serve this repository; set a known_hosts file")
	}
	return g, nil
}

// Fetch returns the snapshot of the branch head. When the remote head has
// not moved since the last call it asks the remote for its refs only and
// transfers no objects.
func (g *Git) Fetch(ctx context.Context) (Snapshot, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	snap, err := g.fetch(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch %s: %w", g.display, err)
	}
	return snap, nil
}

func (g *Git) fetch(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	repo, err := g.open()
	if err != nil {
		return Snapshot{}, err
	}
	remote, err := repo.Remote(remoteName)
	if err != nil {
		return Snapshot{}, fmt.Errorf("cache %s: %w", g.cfg.CacheDir, err)
	}
	auth, err := g.auth()
	if err != nil {
		return Snapshot{}, err
	}
	ca, err := g.caBundle()
	if err != nil {
		return Snapshot{}, err
	}

	head, err := g.remoteHead(ctx, remote, auth, ca)
	if err != nil {
		return Snapshot{}, err
	}
	localName := plumbing.NewRemoteReferenceName(remoteName, g.cfg.Branch)
	hash, have := g.localHead(repo, localName)
	if !have || hash != head {
		g.log.Debug("fetching", "head", head.String())
		opts := &git.FetchOptions{
			RemoteName: remoteName,
			RefSpecs:   []config.RefSpec{g.refSpec()},
			Auth:       auth,
			CABundle:   ca,
			Force:      true,
			Tags:       git.NoTags,
		}
		err := remote.FetchContext(ctx, opts)
		if err != nil && strings.HasSuffix(err.Error(), "closing input: EOF") {
			// go-git v5 fails a fetch over SSH now and then when sshd closes
			// the channel before the client closes its side of the request
			// (go-git issue 1685, fixed in v6). Nothing was stored; the
			// fetch is asked again once.
			g.log.Debug("fetch closed early by the server; fetching again", "error", err)
			err = remote.FetchContext(ctx, opts)
		}
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return Snapshot{}, err
		}
		if hash, have = g.localHead(repo, localName); !have {
			return Snapshot{}, fmt.Errorf("%w: %q after fetch", ErrBranchNotFound, g.cfg.Branch)
		}
	} else {
		g.log.Debug("remote unchanged", "revision", hash.String())
	}

	commit, err := repo.CommitObject(hash)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read commit %s: %w", hash, err)
	}
	// Verified on every call, before the cached snapshot is handed out, so
	// that a key removed from the trusted file stops its commits at once.
	if err := g.verify(commit); err != nil {
		return Snapshot{}, err
	}
	if g.last.Revision == hash.String() {
		return g.last.clone(), nil
	}
	snap, err := readCommit(commit, g.subdir, g.limit, g.log)
	if err != nil {
		return Snapshot{}, err
	}
	g.log.Info("new revision", "revision", snap.Revision, "files", len(snap.Files))
	g.last = snap
	return snap.clone(), nil
}

// remoteHead asks the remote for the hash of the followed branch: one
// round trip, no objects.
func (g *Git) remoteHead(ctx context.Context, remote *git.Remote, auth transport.AuthMethod, ca []byte) (plumbing.Hash, error) {
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth, CABundle: ca})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q (the repository is empty)", ErrBranchNotFound, g.cfg.Branch)
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	want := plumbing.NewBranchReferenceName(g.cfg.Branch)
	for _, r := range refs {
		if r.Name() == want && r.Type() == plumbing.HashReference {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: %q", ErrBranchNotFound, g.cfg.Branch)
}

// localHead returns the hash the cache holds for the followed branch, and
// whether that commit is present.
func (g *Git) localHead(repo *git.Repository, name plumbing.ReferenceName) (plumbing.Hash, bool) {
	ref, err := repo.Reference(name, true)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	if _, err := repo.CommitObject(ref.Hash()); err != nil {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}

func (g *Git) refSpec() config.RefSpec {
	return config.RefSpec(fmt.Sprintf("+%s:%s",
		plumbing.NewBranchReferenceName(g.cfg.Branch),
		plumbing.NewRemoteReferenceName(remoteName, g.cfg.Branch)))
}

// clone copies the file maps so that a caller that modifies its snapshot
// cannot change the one kept for the next call. Contents are shared.
func (s Snapshot) clone() Snapshot {
	c := Snapshot{Revision: s.Revision, Dir: s.Dir, Files: maps.Clone(s.Files)}
	if s.Skipped != nil {
		c.Skipped = maps.Clone(s.Skipped)
	}
	return c
}

// normaliseURL turns a plain local path into an absolute one, so that the
// URL stored in the cache compares equal across working directories.
func normaliseURL(raw string) (string, error) {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("parse url: %w", err)
		}
		switch u.Scheme {
		case "file", "http", "https", "ssh", "git":
		default:
			return "", fmt.Errorf("unsupported url scheme %q", u.Scheme)
		}
		return raw, nil
	}
	if isLocalPath(raw) {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return "", err
		}
		return abs, nil
	}
	return raw, nil // scp-like user@host:path
}

// isLocalPath tells a plain path from the scp-like SSH form user@host:path.
func isLocalPath(raw string) bool {
	if filepath.IsAbs(raw) || strings.HasPrefix(raw, ".") {
		return true
	}
	i := strings.Index(raw, ":")
	return i < 0 || strings.Contains(raw[:i], "/")
}

// redactURL removes a password from a URL so that it can be logged.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
