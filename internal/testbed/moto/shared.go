package moto

import (
	"sync"
	"testing"
)

// Shared is one server for a whole test package: starting moto takes a
// second or two, too long to pay in every test. Declare it in the test
// package and close it from TestMain:
//
//	var emulator moto.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		emulator.Close()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		srv := emulator.Get(t)
//		...
//	}
//
// Tests on a shared server see each other's resources: give them unique
// names, and call Reset only from tests that do not run in parallel.
type Shared struct {
	// Options are used for the one start.
	Options []Option

	mu  sync.Mutex
	srv *Server
	err error
}

// Get returns the package's server, starting it on first use. A server that
// could not start skips (or, under $CI, fails) every test that asks for it.
func (p *Shared) Get(t testing.TB) *Server {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil && p.err == nil {
		p.srv, p.err = start(p.Options...)
	}
	if p.err != nil {
		fail(t, p.err)
	}
	return p.srv
}

// Close stops the server if one was started.
func (p *Shared) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		p.srv.Close()
	}
}
