package batch

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// captureSubmit records the SubmitJob request. The emulator accepts
// resource and node overrides but does not describe them back, so the
// request itself is what these tests check.
type captureSubmit struct {
	in *batch.SubmitJobInput
}

func (c *captureSubmit) SubmitJob(_ context.Context, in *batch.SubmitJobInput, _ ...func(*batch.Options)) (*batch.SubmitJobOutput, error) {
	c.in = in
	return &batch.SubmitJobOutput{JobId: aws.String("id-1"), JobName: in.JobName}, nil
}

func (c *captureSubmit) DescribeJobDefinitions(_ context.Context, in *batch.DescribeJobDefinitionsInput, _ ...func(*batch.Options)) (*batch.DescribeJobDefinitionsOutput, error) {
	if in.JobDefinitionName != nil {
		return &batch.DescribeJobDefinitionsOutput{JobDefinitions: []types.JobDefinition{{
			JobDefinitionArn: aws.String("arn:aws:batch:us-east-1:1:job-definition/jd-mnp:3"), Revision: aws.Int32(3),
		}}}, nil
	}
	return &batch.DescribeJobDefinitionsOutput{JobDefinitions: []types.JobDefinition{{JobDefinitionName: aws.String("jd")}}}, nil
}

func (c *captureSubmit) RegisterJobDefinition(context.Context, *batch.RegisterJobDefinitionInput, ...func(*batch.Options)) (*batch.RegisterJobDefinitionOutput, error) {
	panic("an ACTIVE definition exists; nothing to register")
}

var testTarget = Target{Cluster: "c", JobQueue: "arn:aws:batch:us-east-1:1:job-queue/q", JobDefinition: "arn:aws:batch:us-east-1:1:job-definition/jd:1"}

func TestSubmitRequest(t *testing.T) {
	tests := []struct {
		name  string
		spec  JobSpec
		check func(t *testing.T, in *batch.SubmitJobInput)
	}{
		{"resources, timeout, retries", JobSpec{Name: "a", Command: []string{"run"}, VCPUs: 4, MemoryMiB: 8192, Timeout: 90 * time.Second, Retries: 2},
			func(t *testing.T, in *batch.SubmitJobInput) {
				r := in.ContainerOverrides.ResourceRequirements
				if len(r) != 2 || aws.ToString(r[0].Value) != "4" || aws.ToString(r[1].Value) != "8192" {
					t.Errorf("requirements %+v", r)
				}
				if aws.ToInt32(in.Timeout.AttemptDurationSeconds) != 90 || aws.ToInt32(in.RetryStrategy.Attempts) != 3 {
					t.Errorf("timeout %+v retries %+v", in.Timeout, in.RetryStrategy)
				}
			}},
		{"multi-node", JobSpec{Name: "m", Command: []string{"mpirun a.out"}, Nodes: 8},
			func(t *testing.T, in *batch.SubmitJobInput) {
				if in.ContainerOverrides != nil || aws.ToInt32(in.NodeOverrides.NumNodes) != 8 {
					t.Errorf("overrides %+v %+v", in.ContainerOverrides, in.NodeOverrides)
				}
				if got := aws.ToString(in.JobDefinition); got != "arn:aws:batch:us-east-1:1:job-definition/jd-mnp:3" {
					t.Errorf("definition %s", got)
				}
				o := in.NodeOverrides.NodePropertyOverrides[0]
				if aws.ToString(o.TargetNodes) != "0:" || o.ContainerOverrides.Command[2] != "mpirun a.out" {
					t.Errorf("node override %+v", o)
				}
			}},
		{"array with dependencies", JobSpec{Name: "s", Command: []string{"x"}, ArraySize: 10, DependsOn: []Dependency{{JobID: "j1"}, {JobID: "j2", Type: "N_TO_N"}}},
			func(t *testing.T, in *batch.SubmitJobInput) {
				if aws.ToInt32(in.ArrayProperties.Size) != 10 || len(in.DependsOn) != 2 || in.DependsOn[1].Type != types.ArrayJobDependencyNToN {
					t.Errorf("array %+v deps %+v", in.ArrayProperties, in.DependsOn)
				}
			}},
		{"environment and tags", JobSpec{Name: "e", Command: []string{"env"}, Env: map[string]string{"B": "2", "A": "1"}},
			func(t *testing.T, in *batch.SubmitJobInput) {
				env := in.ContainerOverrides.Environment
				if len(env) != 2 || aws.ToString(env[0].Name) != "A" || in.Tags[TagCluster] != "c" {
					t.Errorf("env %+v tags %v", env, in.Tags)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &captureSubmit{}
			if _, err := Submit(t.Context(), c, testTarget, tt.spec); err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.in)
		})
	}
}

func TestJobSpecValidate(t *testing.T) {
	ok := JobSpec{Name: "ok", Command: []string{"true"}}
	tests := []struct {
		name string
		edit func(*JobSpec)
		want string
	}{
		{"valid", func(*JobSpec) {}, ""},
		{"bad name", func(s *JobSpec) { s.Name = "has space" }, "job name"},
		{"no command", func(s *JobSpec) { s.Command = nil }, "no command"},
		{"array of one", func(s *JobSpec) { s.ArraySize = 1 }, "array size"},
		{"array too big", func(s *JobSpec) { s.ArraySize = 10001 }, "array size"},
		{"multi-node array", func(s *JobSpec) { s.Nodes, s.ArraySize = 2, 2 }, "cannot be an array"},
		{"short timeout", func(s *JobSpec) { s.Timeout = 30 * time.Second }, "at least 1m"},
		{"tiny memory", func(s *JobSpec) { s.MemoryMiB = 2 }, "memory"},
		{"bad dependency type", func(s *JobSpec) { s.DependsOn = []Dependency{{JobID: "x", Type: "ALL"}} }, "N_TO_N"},
		{"too many retries", func(s *JobSpec) { s.Retries = 10 }, "retries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseDependency(t *testing.T) {
	tests := []struct {
		in      string
		want    Dependency
		wantErr bool
	}{
		{"abc", Dependency{JobID: "abc"}, false},
		{"abc:n_to_n", Dependency{JobID: "abc", Type: "N_TO_N"}, false},
		{"abc:SEQUENTIAL", Dependency{JobID: "abc", Type: "SEQUENTIAL"}, false},
		{":N_TO_N", Dependency{}, true},
		{"abc:later", Dependency{}, true},
	}
	for _, tt := range tests {
		got, err := ParseDependency(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDependency(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func FuzzParseDependency(f *testing.F) {
	for _, s := range []string{"a", "a:N_TO_N", ":", "a:b:c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDependency(s)
		if err != nil {
			return
		}
		if d.JobID == "" || (d.Type != "" && d.Type != "N_TO_N" && d.Type != "SEQUENTIAL") {
			t.Fatalf("ParseDependency(%q) = %+v", s, d)
		}
		if (JobSpec{Name: "x", Command: []string{"x"}, DependsOn: []Dependency{d}}).Validate() != nil {
			t.Fatalf("a parsed dependency %+v does not validate", d)
		}
	})
}

// TestShellLineRoundTrip runs the bash -c line a job would run and checks
// that each extra argument arrives as one word.
func TestShellLineRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	args := []string{"printf '%s|'", "plain", "two words", "it's", "$HOME", "`id`", ""}
	out, err := exec.CommandContext(t.Context(), bash, "-c", shellLine(args)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "plain|two words|it's|$HOME|`id`||"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}
