package gitserver

import (
	"crypto/subtle"
	"encoding/pem"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Server serves every bare repository under a root directory over smart
// HTTP on 127.0.0.1, and counts what clients ask of it.
type Server struct {
	srv  *httptest.Server
	root string

	requests    atomic.Int64
	uploadPacks atomic.Int64
	refLists    atomic.Int64

	username, password string
	tls                bool
}

// Option changes how Start configures a Server.
type Option func(*Server)

// WithBasicAuth makes the server answer 401 to requests that do not carry
// this user name and password, as a hosted git service does for a private
// repository.
func WithBasicAuth(username, password string) Option {
	return func(s *Server) {
		s.username, s.password = username, password
	}
}

// WithTLS serves HTTPS with a certificate for 127.0.0.1 signed by a test
// CA; CACertPEM returns the CA for clients to trust.
func WithTLS() Option {
	return func(s *Server) { s.tls = true }
}

// Start serves every bare repo under root over smart HTTP (`git
// http-backend` via net/http/cgi) on 127.0.0.1:0. The server is closed by
// t.Cleanup. It skips the test when git is not installed.
func Start(t testing.TB, root string, opts ...Option) *Server {
	t.Helper()
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skipf("git is not installed: %v", err)
	}
	s := &Server{root: root}
	for _, o := range opts {
		o(s)
	}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
		},
		InheritEnv: []string{"PATH"},
		Stderr:     logWriter{t},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if !s.authorised(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
			s.uploadPacks.Add(1)
		case strings.HasSuffix(r.URL.Path, "/info/refs"):
			s.refLists.Add(1)
		}
		backend.ServeHTTP(w, r)
	}))
	if s.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *Server) authorised(r *http.Request) bool {
	if s.username == "" && s.password == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok &&
		subtle.ConstantTimeCompare([]byte(u), []byte(s.username)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.password)) == 1
}

// URL returns the clone URL of a repository under the root, e.g.
// http://127.0.0.1:PORT/name.git. The ".git" suffix is added when missing.
func (s *Server) URL(repo string) string {
	if !strings.HasSuffix(repo, ".git") {
		repo += ".git"
	}
	return s.srv.URL + "/" + strings.TrimPrefix(repo, "/")
}

// CACertPEM returns the PEM certificate a client must trust to reach a
// server started WithTLS.
func (s *Server) CACertPEM() []byte {
	if s.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Requests is the number of HTTP requests served so far, refused ones
// included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// RefLists is the number of ref advertisements (GET .../info/refs) served:
// one per ls-remote, one per fetch.
func (s *Server) RefLists() int64 { return s.refLists.Load() }

// UploadPacks is the number of pack negotiations (POST .../git-upload-pack)
// served: each is a fetch that asked for objects. A client that found
// nothing new makes none.
func (s *Server) UploadPacks() int64 { return s.uploadPacks.Load() }

// logWriter sends the backend's complaints to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Logf("git http-backend: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
