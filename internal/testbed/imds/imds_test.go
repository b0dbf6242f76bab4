package imds

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, method, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestIMDSv2(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Serve(l, Instance{ID: "i-0abc", LocalIPv4: "10.0.0.5", MAC: "0a:00:00:00:00:01", SubnetCIDR: "10.0.0.0/24",
		VPCCIDRs: []string{"10.0.0.0/16", "10.1.0.0/16"}, Role: "node", AccessKeyID: "AKIA", Secret: "s", SessionToken: "t", UserData: "#!/bin/bash\n"})
	defer s.Close()

	if code, _ := get(t, "GET", s.URL+"/latest/meta-data/instance-id", nil); code != 401 {
		t.Fatalf("without a token: %d, want 401", code)
	}
	if code, _ := get(t, "PUT", s.URL+"/latest/api/token", nil); code != 400 {
		t.Fatalf("token without TTL: %d, want 400", code)
	}
	if code, _ := get(t, "PUT", s.URL+"/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"}); code != 403 {
		t.Fatalf("proxied token request: %d, want 403", code)
	}
	code, tok := get(t, "PUT", s.URL+"/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60"})
	if code != 200 || tok == "" {
		t.Fatalf("token: %d %q", code, tok)
	}
	h := map[string]string{"X-aws-ec2-metadata-token": tok}
	tests := []struct{ path, want string }{
		{"/latest/meta-data/instance-id", "i-0abc"},
		{"/latest/meta-data/network/interfaces/macs/0a:00:00:00:00:01/vpc-ipv4-cidr-blocks", "10.0.0.0/16\n10.1.0.0/16"},
		{"/latest/meta-data/iam/security-credentials/", "node"},
		{"/latest/user-data", "#!/bin/bash\n"},
	}
	for _, tt := range tests {
		if code, got := get(t, "GET", s.URL+tt.path, h); code != 200 || got != tt.want {
			t.Errorf("%s: %d %q, want %q", tt.path, code, got, tt.want)
		}
	}
	if _, doc := get(t, "GET", s.URL+"/latest/meta-data/iam/security-credentials/node", h); !strings.Contains(doc, `"AccessKeyId": "AKIA"`) {
		t.Errorf("credentials: %s", doc)
	}
	if code, _ := get(t, "GET", s.URL+"/latest/meta-data/nope", h); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
}
