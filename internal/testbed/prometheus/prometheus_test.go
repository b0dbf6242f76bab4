package prometheus

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestScrapesAndQueries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var scrapes []time.Time
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		scrapes = append(scrapes, time.Now())
		mu.Unlock()
		fmt.Fprint(w, "# TYPE testbed_value gauge\ntestbed_value{kind=\"a\"} 42\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	p := Start(t, Options{Targets: []string{ln.Addr().String()}})
	p.WaitScraped(t, time.Now())
	// A second wait must see a scrape that started after it was called,
	// not answer at once.
	since := time.Now()
	p.WaitScraped(t, since)
	mu.Lock()
	after := len(scrapes) > 0 && !scrapes[len(scrapes)-1].Before(since)
	mu.Unlock()
	if !after {
		t.Errorf("WaitScraped(%s) returned before any scrape after it", since.Format(time.RFC3339Nano))
	}
	res, err := p.Query(t.Context(), `testbed_value{job="driftless"}`, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Value != 42 || res[0].Metric["kind"] != "a" || res[0].Metric["instance"] != ln.Addr().String() {
		t.Errorf("query answered %+v", res)
	}
	if res, err := p.Query(t.Context(), `scalar(testbed_value)`, time.Time{}); err != nil || len(res) != 1 || res[0].Value != 42 {
		t.Errorf("scalar query: %+v, %v", res, err)
	}
	if _, err := p.Query(t.Context(), `sum(testbed_value`, time.Time{}); err == nil {
		t.Error("a malformed expression was accepted")
	}
}
