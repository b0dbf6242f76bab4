package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long Watch waits for a directory to go quiet before
// it reports a change: an editor's save or a `git checkout` is a burst of
// events that should cause one fetch, not dozens.
const DefaultDebounce = 250 * time.Millisecond

// Dir reads cluster specs from a local directory, for trying specs out
// without a commit. Each Fetch reads the directory afresh.
type Dir struct {
	path string
	log  *slog.Logger

	// MaxFileSize is the largest file read into a snapshot; larger files are
	// listed in Snapshot.Skipped. NewDir sets DefaultMaxFileSize.
	MaxFileSize int64
	// Debounce is the quiet period Watch waits for before it reports a
	// change. NewDir sets DefaultDebounce.
	Debounce time.Duration

	// watching, when set, is called once Watch has its watches in place.
	watching func()
}

// NewDir returns a source that reads the directory at path.
func NewDir(path string, log *slog.Logger) *Dir {
	return &Dir{
		path:        path,
		log:         orDiscard(log).With("dir", path),
		MaxFileSize: DefaultMaxFileSize,
		Debounce:    DefaultDebounce,
	}
}

// Fetch reads every regular file under the directory. The revision is a hash
// of paths and contents, so an unchanged directory keeps its revision.
func (d *Dir) Fetch(ctx context.Context) (Snapshot, error) {
	snap, err := d.read(ctx)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read directory %s: %w", d.path, err)
	}
	return snap, nil
}

func (d *Dir) read(ctx context.Context) (Snapshot, error) {
	limit := d.MaxFileSize
	if limit <= 0 {
		limit = DefaultMaxFileSize
	}
	root, err := os.Stat(d.path)
	if err != nil {
		return Snapshot{}, err
	}
	if !root.IsDir() {
		return Snapshot{}, errors.New("not a directory")
	}
	snap := Snapshot{Files: map[string][]byte{}}
	skipped := map[string]error{}
	err = filepath.WalkDir(d.path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == d.path {
			return nil
		}
		rel, err := filepath.Rel(d.path, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if ignored(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case e.IsDir():
			return nil
		case e.Type()&fs.ModeSymlink != 0:
			skipped[name] = &SymlinkError{Path: name}
			return nil
		case !e.Type().IsRegular():
			return nil
		}
		b, err := readFile(p, name, limit)
		var big *FileTooLargeError
		if errors.As(err, &big) {
			skipped[name] = big
			return nil
		}
		if err != nil {
			return err
		}
		snap.Files[name] = b
		return nil
	})
	if err != nil {
		return Snapshot{}, err
	}
	snap.Revision = "dir:" + contentHash(snap.Files)[:16]
	for name, reason := range skipped {
		snap.skip(name, reason, d.log)
	}
	return snap, nil
}

// readFile reads a file of at most limit bytes.
func readFile(p, name string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, &FileTooLargeError{Path: name, Size: st.Size(), Limit: limit}
	}
	return readLimited(f, name, limit)
}

// Watch reports changes under the directory on changed until ctx ends, then
// returns nil. Sub-directories are watched too, including ones created
// later. A burst of events is reported once, after Debounce of quiet; a
// report is dropped when changed already holds one, so a buffered channel of
// size 1 coalesces everything the reader has not yet seen.
func (d *Dir) Watch(ctx context.Context, changed chan<- struct{}) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", d.path, err)
	}
	defer w.Close()
	if err := d.addTree(w, d.path); err != nil {
		return fmt.Errorf("watch %s: %w", d.path, err)
	}
	if d.watching != nil {
		d.watching()
	}

	debounce := d.Debounce
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	timer := time.NewTimer(debounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !d.relevant(w, ev) {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflow means events were lost: report a change so the
			// caller reads the directory again.
			d.log.Warn("watch error", "err", err)
			timer.Reset(debounce)
		case <-timer.C:
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// relevant reports whether an event may change a snapshot, and starts
// watching directories that appear.
func (d *Dir) relevant(w *fsnotify.Watcher, ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	rel, err := filepath.Rel(d.path, ev.Name)
	if err != nil || ignored(filepath.ToSlash(rel)) {
		return false
	}
	if ev.Has(fsnotify.Create) {
		if st, err := os.Lstat(ev.Name); err == nil && st.IsDir() {
			if err := d.addTree(w, ev.Name); err != nil {
				d.log.Warn("watch new directory", "path", ev.Name, "err", err)
			}
		}
	}
	return true
}

// addTree watches dir and every directory below it, except .git* ones.
func (d *Dir) addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return err
		}
		if !e.IsDir() {
			return nil
		}
		if p != d.path && ignored(e.Name()) {
			return filepath.SkipDir
		}
		return w.Add(p)
	})
}
