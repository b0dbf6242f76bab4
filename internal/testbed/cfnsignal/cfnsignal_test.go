package cfnsignal

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSignals(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(l)
	defer s.Close()
	put := func(url, body string) int {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name, url, body string
		code            int
	}{
		{"unknown field", s.URL, `{"Status":"SUCCESS","Bogus":1}`, 400},
		{"bad status", s.URL, `{"Status":"DONE"}`, 400},
		{"bad signature", strings.Replace(s.URL, "0f1e", "beef", 1), `{"Status":"SUCCESS"}`, 403},
		{"failure", s.URL, `{"Status":"FAILURE","Reason":"x\ny","UniqueId":"head-node","Data":"i-1"}`, 200},
	}
	for _, tt := range tests {
		if got := put(tt.url, tt.body); got != tt.code {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sig, err := s.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sig != (Signal{Status: "FAILURE", Reason: "x\ny", UniqueID: "head-node", Data: "i-1"}) {
		t.Errorf("got %+v", sig)
	}
}
