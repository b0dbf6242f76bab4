package moto_test

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/internal/testbed/moto"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

func TestNetworkAndReset(t *testing.T) {
	srv := emulator.Get(t)
	ctx := t.Context()
	client := ec2.NewFromConfig(srv.AWSConfig())

	net := moto.NewNetwork(t, ctx, client)
	for name, v := range map[string]string{"vpc": net.VPC, "subnet": net.Subnet, "key": net.KeyName} {
		if v == "" {
			t.Errorf("%s is empty", name)
		}
	}
	if !hasVPC(t, client, net.VPC) {
		t.Fatalf("vpc %s not found after create", net.VPC)
	}

	srv.Reset(t)
	if hasVPC(t, client, net.VPC) {
		t.Fatalf("vpc %s still there after reset", net.VPC)
	}
}

func hasVPC(t *testing.T, client *ec2.Client, id string) bool {
	t.Helper()
	out, err := client.DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatalf("describe vpcs: %v", err)
	}
	for _, v := range out.Vpcs {
		if aws.ToString(v.VpcId) == id {
			return true
		}
	}
	return false
}

func TestStartIsPrivateAndStops(t *testing.T) {
	var srv *moto.Server
	t.Run("own", func(t *testing.T) {
		srv = moto.Start(t)
		shared := emulator.Get(t)
		if srv.Endpoint == shared.Endpoint {
			t.Fatalf("Start reused the shared endpoint %s", srv.Endpoint)
		}
	})
	if srv == nil {
		return
	}
	// The subtest's cleanup has stopped the server.
	_, err := ec2.NewFromConfig(srv.AWSConfig(), func(o *ec2.Options) {
		o.RetryMaxAttempts = 1
	}).DescribeVpcs(t.Context(), &ec2.DescribeVpcsInput{})
	if err == nil {
		t.Fatal("server still answers after its test ended")
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv(moto.EnvServer, "/nonexistent/moto_server")
	if _, err := moto.Binary(); err == nil {
		t.Fatal("Binary found a server that does not exist")
	}
}
