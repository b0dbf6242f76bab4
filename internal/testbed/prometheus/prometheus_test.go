package prometheus

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestScrapesAndQueries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE testbed_value gauge\ntestbed_value{kind=\"a\"} 42\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	p := Start(t, Options{Targets: []string{ln.Addr().String()}})
	p.WaitScraped(t, time.Now())
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
