// Package cfnsignal stands in for a CloudFormation wait condition handle
// in tests: a node signals by PUTting a JSON document to the handle's
// presigned URL, as curl does on an instance, and the test reads the
// signals it received. Like the real handle, it takes only PUT, only the
// documented fields, and a Status of SUCCESS or FAILURE.
package cfnsignal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Signal is one wait condition signal.
type Signal struct {
	Status   string `json:"Status"`
	Reason   string `json:"Reason"`
	UniqueID string `json:"UniqueId"`
	Data     string `json:"Data"`
}

// Server records the signals sent to its handle URL.
type Server struct {
	// URL is the handle: a path and a query string shaped like a
	// presigned S3 URL, so a script that mangles either fails.
	URL string

	srv     *http.Server
	mu      sync.Mutex
	signals []Signal
	arrived chan struct{}
}

// Serve starts serving on l until Close.
func Serve(l net.Listener) *Server {
	s := &Server{
		URL:     "http://" + l.Addr().String() + "/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/driftless-test/1/HeadNodeWaitHandle?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0f1e",
		arrived: make(chan struct{}, 16),
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		http.Error(w, "the handle takes PUT", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Query().Get("X-Amz-Signature") != "0f1e" {
		http.Error(w, "SignatureDoesNotMatch", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var sig Signal
	if err := dec.Decode(&sig); err != nil {
		http.Error(w, "malformed signal: "+err.Error(), http.StatusBadRequest)
		return
	}
	if sig.Status != "SUCCESS" && sig.Status != "FAILURE" {
		http.Error(w, fmt.Sprintf("status %q is not SUCCESS or FAILURE", sig.Status), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.signals = append(s.signals, sig)
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

// Signals returns every signal received so far.
func (s *Server) Signals() []Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Signal(nil), s.signals...)
}

// Wait returns the first signal, waiting for it until ctx ends.
func (s *Server) Wait(ctx context.Context) (Signal, error) {
	for {
		if sigs := s.Signals(); len(sigs) > 0 {
			return sigs[0], nil
		}
		select {
		case <-ctx.Done():
			return Signal{}, fmt.Errorf("no wait condition signal: %w", ctx.Err())
		case <-s.arrived:
		}
	}
}
