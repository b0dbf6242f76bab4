package awsclient_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// calls collects what the recorder reports.
type calls struct {
	mu   sync.Mutex
	list []awsclient.Call
}

func (c *calls) add(call awsclient.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, call)
}

func (c *calls) all() []awsclient.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]awsclient.Call(nil), c.list...)
}

// newRecorder returns a recorder with its own registry and a log of calls.
func newRecorder(t *testing.T) (*awsclient.Recorder, *calls, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m := awsclient.NewMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	got := &calls{}
	return &awsclient.Recorder{Metrics: m, OnCall: got.add}, got, reg
}

func TestClientsAgainstMoto(t *testing.T) {
	srv := emulator.Get(t)
	ctx := t.Context()
	rec, got, reg := newRecorder(t)

	cl, err := awsclient.New(ctx, awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CFN.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{}); err != nil {
		t.Fatalf("cloudformation: %v", err)
	}
	if _, err := cl.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{}); err != nil {
		t.Fatalf("autoscaling: %v", err)
	}
	if _, err := cl.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("ec2: %v", err)
	}
	_, err = cl.CFN.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("no-such-stack")})
	if err == nil {
		t.Fatal("DescribeStacks of a missing stack succeeded")
	}

	want := []struct {
		service, op string
		class       awsclient.Class
	}{
		{"CloudFormation", "DescribeStacks", ""},
		{"Auto Scaling", "DescribeAutoScalingGroups", ""},
		{"EC2", "DescribeVpcs", ""},
		{"CloudFormation", "DescribeStacks", awsclient.ClassOther},
	}
	list := got.all()
	if len(list) != len(want) {
		t.Fatalf("recorded %d calls, want %d: %+v", len(list), len(want), list)
	}
	for i, w := range want {
		c := list[i]
		if c.Service != w.service || c.Operation != w.op || c.Class != w.class || c.Attempts != 1 {
			t.Errorf("call %d = %s %s class %q attempts %d, want %s %s class %q attempts 1",
				i, c.Service, c.Operation, c.Class, c.Attempts, w.service, w.op, w.class)
		}
	}
	if in, ok := list[3].Input.(*cloudformation.DescribeStacksInput); !ok || aws.ToString(in.StackName) != "no-such-stack" {
		t.Errorf("call 3 input = %#v, want the DescribeStacksInput sent", list[3].Input)
	}

	for _, w := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"driftless_aws_calls_total", map[string]string{"service": "CloudFormation", "operation": "DescribeStacks"}, 2},
		{"driftless_aws_calls_total", map[string]string{"service": "Auto Scaling", "operation": "DescribeAutoScalingGroups"}, 1},
		{"driftless_aws_calls_total", map[string]string{"service": "EC2", "operation": "DescribeVpcs"}, 1},
		{"driftless_aws_errors_total", map[string]string{"service": "CloudFormation", "operation": "DescribeStacks", "class": "other"}, 1},
		{"driftless_aws_retries_total", map[string]string{"service": "CloudFormation", "operation": "DescribeStacks"}, 0},
	} {
		if got := counter(t, reg, w.name, w.labels); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
}

func TestUnreachableEndpointFailsFastWithOneMessage(t *testing.T) {
	// A port that was just free: connections to it are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()

	rec, got, _ := newRecorder(t)
	cl, err := awsclient.New(t.Context(), awsclient.Config{
		Region: moto.Region, Endpoint: endpoint, MaxAttempts: 3, MaxBackoff: 20 * time.Millisecond,
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = cl.CFN.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{})
	if err == nil {
		t.Fatal("call to a closed port succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("call took %s; retries are not bounded", d)
	}
	var ue *awsclient.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("error %T is not an UnreachableError: %v", err, err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, s := range []string{"DescribeStacks", "unreachable after 3 attempt(s)", "connection refused", endpoint} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not mention %q", msg, s)
		}
	}
	if strings.Contains(msg, "StatusCode: 0") {
		t.Errorf("error %q still carries the SDK's response wrapper", msg)
	}
	list := got.all()
	if len(list) != 1 || list[0].Class != awsclient.ClassNetwork || list[0].Attempts != 3 {
		t.Fatalf("recorded %+v, want one network error after 3 attempts", list)
	}
}

// TestErrorClasses serves canned AWS error responses from a local HTTP
// server. It exists because moto never throttles, fails with a 5xx or
// denies a call.
func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		code         string
		wantClass    awsclient.Class
		wantAttempts int
	}{
		{"throttled", http.StatusBadRequest, "Throttling", awsclient.ClassThrottle, 3},
		{"server error", http.StatusServiceUnavailable, "ServiceUnavailable", awsclient.Class5xx, 3},
		{"denied", http.StatusForbidden, "AccessDenied", awsclient.ClassDenied, 1},
		{"validation", http.StatusBadRequest, "ValidationError", awsclient.ClassOther, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", "text/xml")
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">`+
					`<Error><Type>Sender</Type><Code>%s</Code><Message>canned</Message></Error>`+
					`<RequestId>req-1</RequestId></ErrorResponse>`, tt.code)
			}))
			defer srv.Close()

			rec, got, reg := newRecorder(t)
			cl, err := awsclient.New(t.Context(), awsclient.Config{
				Region: moto.Region, Endpoint: srv.URL, MaxAttempts: 3, MaxBackoff: 5 * time.Millisecond,
			}, rec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.CFN.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{})
			if err == nil {
				t.Fatal("call succeeded")
			}
			if c := awsclient.ClassOf(err); c != tt.wantClass {
				t.Errorf("ClassOf = %q, want %q (%v)", c, tt.wantClass, err)
			}
			list := got.all()
			if len(list) != 1 || list[0].Class != tt.wantClass || list[0].Attempts != tt.wantAttempts {
				t.Fatalf("recorded %+v, want one %s error after %d attempts", list, tt.wantClass, tt.wantAttempts)
			}
			if int(hits.Load()) != tt.wantAttempts {
				t.Errorf("server saw %d requests, want %d", hits.Load(), tt.wantAttempts)
			}
			labels := map[string]string{"service": "CloudFormation", "operation": "DescribeStacks"}
			if got := counter(t, reg, "driftless_aws_retries_total", labels); got != float64(tt.wantAttempts-1) {
				t.Errorf("retries = %v, want %d", got, tt.wantAttempts-1)
			}
			labels["class"] = string(tt.wantClass)
			if got := counter(t, reg, "driftless_aws_errors_total", labels); got != 1 {
				t.Errorf("errors{class=%s} = %v, want 1", tt.wantClass, got)
			}
		})
	}
}

func TestNilRecorder(t *testing.T) {
	srv := emulator.Get(t)
	cl, err := awsclient.New(t.Context(), awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CFN.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{}); err != nil {
		t.Fatal(err)
	}
}

// counter reads one counter from reg; a series that does not exist is 0.
func counter(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, l := range m.GetLabel() {
		if labels[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}
