// Package imds is a small EC2 instance metadata service (IMDSv2) for
// tests: the session token is required (PUT /latest/api/token with a TTL
// header; a GET without a valid token answers 401, as an instance with
// IMDSv1 turned off does), and it serves the identity, network and role
// credentials a node's bootstrap reads, and the user data.
//
// It listens where the caller says (127.0.0.1, or a listener made inside a
// test's network namespace); nothing outside _test.go files and test
// harnesses imports it.
package imds

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Instance is what the service says about its instance.
type Instance struct {
	ID               string
	LocalIPv4        string
	Hostname         string
	MAC              string
	SubnetCIDR       string
	VPCCIDRs         []string
	Region           string
	AvailabilityZone string
	// Role is the instance profile's role; empty serves no credentials.
	Role                string
	AccessKeyID, Secret string
	SessionToken        string
	UserData            string
}

// Server serves one instance's metadata.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string

	srv    *http.Server
	values map[string]string
	mu     sync.Mutex
	tokens map[string]time.Time
	now    func() time.Time
}

// Serve starts serving on l until Close.
func Serve(l net.Listener, in Instance) *Server {
	s := &Server{URL: "http://" + l.Addr().String(), tokens: map[string]time.Time{}, now: time.Now}
	md := "/latest/meta-data/"
	mac := md + "network/interfaces/macs/" + in.MAC + "/"
	s.values = map[string]string{
		md + "instance-id":                 in.ID,
		md + "local-ipv4":                  in.LocalIPv4,
		md + "local-hostname":              in.Hostname,
		md + "mac":                         in.MAC,
		md + "placement/region":            in.Region,
		md + "placement/availability-zone": in.AvailabilityZone,
		mac + "local-ipv4s":                in.LocalIPv4,
		mac + "subnet-ipv4-cidr-block":     in.SubnetCIDR,
		mac + "vpc-ipv4-cidr-blocks":       strings.Join(in.VPCCIDRs, "\n"),
		"/latest/user-data":                in.UserData,
	}
	if in.Role != "" {
		doc, _ := json.MarshalIndent(map[string]string{
			"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": in.AccessKeyID,
			"SecretAccessKey": in.Secret, "Token": in.SessionToken,
			"LastUpdated": "2026-01-01T00:00:00Z", "Expiration": "2099-01-01T00:00:00Z",
		}, "", "  ")
		s.values[md+"iam/security-credentials/"+in.Role] = string(doc)
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			http.Error(w, "token requests are PUT", http.StatusMethodNotAllowed)
			return
		}
		// Like the real service, refuse what came through a proxy.
		if r.Header.Get("X-Forwarded-For") != "" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > 21600 {
			http.Error(w, "bad TTL", http.StatusBadRequest)
			return
		}
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok := hex.EncodeToString(b[:])
		s.mu.Lock()
		s.tokens[tok] = s.now().Add(time.Duration(ttl) * time.Second)
		s.mu.Unlock()
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
		_, _ = w.Write([]byte(tok))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	exp, ok := s.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
	s.mu.Unlock()
	if !ok || s.now().After(exp) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if v, ok := s.values[r.URL.Path]; ok {
		_, _ = w.Write([]byte(v))
		return
	}
	// A directory lists its entries, sub-directories with a trailing /.
	if strings.HasSuffix(r.URL.Path, "/") {
		var names []string
		for k := range s.values {
			rest, ok := strings.CutPrefix(k, r.URL.Path)
			if !ok || rest == "" {
				continue
			}
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i+1]
			}
			if !slices.Contains(names, rest) {
				names = append(names, rest)
			}
		}
		if len(names) > 0 {
			slices.Sort(names)
			_, _ = w.Write([]byte(strings.Join(names, "\n")))
			return
		}
	}
	http.NotFound(w, r)
}
