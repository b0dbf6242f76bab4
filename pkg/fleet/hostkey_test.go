package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/internal/testbed/sshserver"
	"github.com/driftless/driftless/pkg/render"
)

// publish writes a host key to the cluster's parameter as the head node's
// bootstrap does: the public key's "type base64" part.
func publish(t *testing.T, ctx context.Context, c *ssm.Client, cluster string, key ssh.PublicKey) {
	t.Helper()
	value := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	if _, err := c.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(render.HeadNodeHostKeyParameter(cluster)), Value: aws.String(value),
		Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
}

// TestKnownHostsLineFromParameter reads a published host key from the
// emulator's SSM and checks the known_hosts line it makes, and that a
// cluster whose head node published nothing gets ErrNoHostKey.
func TestKnownHostsLineFromParameter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := ssm.NewFromConfig(moto.Start(t).AWSConfig())
	key := sshserver.NewKey(t, t.TempDir()+"/host")
	publish(t, ctx, c, "hpc", key)

	for _, tc := range []struct{ addr, host string }{
		{"10.0.1.23:22", "10.0.1.23"},
		{"10.0.1.23:2222", "[10.0.1.23]:2222"},
	} {
		line, err := KnownHostsLine(ctx, c, "hpc", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		want := tc.host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
		if line != want {
			t.Errorf("%s: line %q, want %q", tc.addr, line, want)
		}
		_, hosts, got, _, _, err := ssh.ParseKnownHosts([]byte(line))
		if err != nil || len(hosts) != 1 || hosts[0] != knownhosts.Normalize(tc.addr) || string(got.Marshal()) != string(key.Marshal()) {
			t.Errorf("%s: line %q parses as %v %v (%v)", tc.addr, line, hosts, got, err)
		}
	}
	if _, err := KnownHostsLine(ctx, c, "other", "10.0.1.24:22"); !errors.Is(err, ErrNoHostKey) {
		t.Errorf("no parameter: %v, want ErrNoHostKey", err)
	}
}

// TestConnectWithPublishedHostKey connects the fleet loop's transport to a
// real sshd with no known_hosts file: the head node's published key lets
// the command through; another published key, or none, stops it before
// any command runs.
func TestConnectWithPublishedHostKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := sshserver.Start(t)
	c := ssm.NewFromConfig(moto.Start(t).AWSConfig())
	tr := Transport{
		SSH:      SSH{User: srv.User, Port: srv.Port, KeyFile: srv.ClientKeyFile},
		HostKeys: c,
		Env:      []string{"PATH=/nonexistent"},
	}
	target := Target{Cluster: "hpc", Scheduler: Torque, HeadNode: srv.Host}

	// snapshot reports whether a command reached the head node's shell
	// (Torque's programs are missing there: they exit 127).
	snapshot := func() error {
		t.Helper()
		sched, closer, err := tr.Connect(ctx, target)
		if err != nil {
			return err
		}
		defer closer.Close()
		_, err = sched.Snapshot(ctx)
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			return nil
		}
		if err == nil {
			t.Fatal("Torque's programs answered on the test machine")
		}
		return err
	}

	if err := snapshot(); !errors.Is(err, ErrNoHostKey) {
		t.Fatalf("nothing published: %v, want ErrNoHostKey", err)
	}
	publish(t, ctx, c, "hpc", sshserver.NewKey(t, t.TempDir()+"/other"))
	if err := snapshot(); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("another key published: %v, want a host key mismatch", err)
	}
	publish(t, ctx, c, "hpc", srv.HostKey)
	if err := snapshot(); err != nil {
		t.Fatalf("the head node's key published: %v", err)
	}
	// The key is read again for every new connection: a head node
	// replaced at the same address is known by the key it publishes.
	sched, closer, err := tr.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sched.Snapshot(ctx); err == nil || strings.Contains(err.Error(), "host key") {
		t.Fatalf("first connection: %v", err)
	}
	publish(t, ctx, c, "hpc", sshserver.NewKey(t, t.TempDir()+"/replaced"))
	closer.Close() // the connection breaks; the next command makes a new one
	if _, err := sched.Snapshot(ctx); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("after the key changed: %v, want a host key mismatch", err)
	}
	publish(t, ctx, c, "hpc", srv.HostKey)

	// A known_hosts file, when given, is used instead of the parameter.
	tr.HostKeys = nil
	tr.SSH.KnownHostsFile = srv.KnownHostsFile
	if err := snapshot(); err != nil {
		t.Fatalf("known_hosts file: %v", err)
	}
	tr.SSH.KnownHostsFile = ""
	if _, _, err := tr.Connect(ctx, target); !errors.Is(err, ErrNoTransport) {
		t.Fatalf("neither a file nor the parameter: %v, want ErrNoTransport", err)
	}
}
