package batch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// SubmitAPI is what Submit calls; *batch.Client satisfies it.
type SubmitAPI interface {
	SubmitJob(ctx context.Context, in *batch.SubmitJobInput, opts ...func(*batch.Options)) (*batch.SubmitJobOutput, error)
	DescribeJobDefinitions(ctx context.Context, in *batch.DescribeJobDefinitionsInput, opts ...func(*batch.Options)) (*batch.DescribeJobDefinitionsOutput, error)
	RegisterJobDefinition(ctx context.Context, in *batch.RegisterJobDefinitionInput, opts ...func(*batch.Options)) (*batch.RegisterJobDefinitionOutput, error)
}

var _ SubmitAPI = (*batch.Client)(nil)

// Dependency is a job this one waits for. Type is empty (the job must
// succeed), N_TO_N (array child i waits for child i) or SEQUENTIAL.
type Dependency struct {
	JobID string
	Type  string
}

// JobSpec is one job to submit, in the terms awsbsub used.
type JobSpec struct {
	// Name is the job's name; letters, digits, - and _ (at most 128).
	Name string
	// Command is run with bash -c in the job's container: the first
	// element as a shell command line, the rest quoted and appended as
	// its arguments.
	Command []string
	// VCPUs and MemoryMiB override the job definition's; zero keeps them.
	VCPUs     int
	MemoryMiB int
	// Nodes above 1 makes a multi-node parallel job.
	Nodes int
	// ArraySize from 2 to 10000 makes an array job.
	ArraySize int
	// DependsOn are jobs this one waits for (at most 20).
	DependsOn []Dependency
	// Timeout ends an attempt that runs longer (at least 60 s); zero is
	// none.
	Timeout time.Duration
	// Retries are the attempts after the first one (0 to 9).
	Retries int
	// Env is added to the container's environment.
	Env map[string]string
}

// Job is a submitted job.
type Job struct {
	ID   string
	Name string
	ARN  string
}

// Validate checks a job spec before anything is sent, with the limits AWS
// Batch applies, so a mistake is reported in the user's terms.
func (s JobSpec) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Name == "" || len(s.Name) > 128 || strings.IndexFunc(s.Name, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) >= 0 {
		bad("job name %q: 1 to 128 letters, digits, hyphens and underscores", s.Name)
	}
	if len(s.Command) == 0 || strings.TrimSpace(s.Command[0]) == "" {
		bad("no command to run")
	}
	if s.VCPUs < 0 {
		bad("vcpus must be positive, got %d", s.VCPUs)
	}
	if s.MemoryMiB != 0 && s.MemoryMiB < 4 {
		bad("memory must be at least 4 MiB, got %d", s.MemoryMiB)
	}
	if s.Nodes < 0 || s.Nodes > 1000 {
		bad("nodes must be 1 to 1000, got %d", s.Nodes)
	}
	if s.ArraySize == 1 || s.ArraySize < 0 || s.ArraySize > 10000 {
		bad("array size must be 2 to 10000, got %d", s.ArraySize)
	}
	if s.Nodes > 1 && s.ArraySize > 1 {
		bad("a multi-node job cannot be an array job")
	}
	if len(s.DependsOn) > 20 {
		bad("a job may depend on at most 20 jobs, got %d", len(s.DependsOn))
	}
	for _, d := range s.DependsOn {
		switch d.Type {
		case "", "N_TO_N", "SEQUENTIAL":
		default:
			bad("dependency %s: type must be N_TO_N or SEQUENTIAL, got %q", d.JobID, d.Type)
		}
	}
	if s.Timeout != 0 && s.Timeout < time.Minute {
		bad("timeout must be at least 1m, got %s", s.Timeout)
	}
	if s.Retries < 0 || s.Retries > 9 {
		bad("retries must be 0 to 9, got %d", s.Retries)
	}
	return errors.Join(errs...)
}

// ParseDependency reads JOBID or JOBID:TYPE, as awsbsub's --depends-on
// did.
func ParseDependency(s string) (Dependency, error) {
	id, typ, _ := strings.Cut(s, ":")
	if id == "" {
		return Dependency{}, fmt.Errorf("dependency %q: no job id", s)
	}
	typ = strings.ToUpper(typ)
	switch typ {
	case "", "N_TO_N", "SEQUENTIAL":
	default:
		return Dependency{}, fmt.Errorf("dependency %q: type must be N_TO_N or SEQUENTIAL", s)
	}
	return Dependency{JobID: id, Type: typ}, nil
}

// shellLine makes the bash -c argument: the command line as written, then
// each further argument single-quoted.
func shellLine(command []string) string {
	var b strings.Builder
	b.WriteString(command[0])
	for _, a := range command[1:] {
		b.WriteByte(' ')
		b.WriteString(Quote(a))
	}
	return b.String()
}

// Quote single-quotes s for a POSIX shell.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Submit submits a job to the cluster's queue with the cluster's job
// definition. A multi-node job runs under the multi-node job definition
// derived from the cluster's one (see MultiNodeDefinition).
func Submit(ctx context.Context, api SubmitAPI, t Target, s JobSpec) (Job, error) {
	if err := s.Validate(); err != nil {
		return Job{}, err
	}
	if t.JobDefinition == "" {
		return Job{}, fmt.Errorf("cluster %s: its stack names no job definition (output %s)", t.Cluster, OutputJobDefinition)
	}
	overrides := &types.ContainerOverrides{
		Command:              []string{"/bin/bash", "-c", shellLine(s.Command)},
		ResourceRequirements: requirements(s),
		Environment:          envPairs(s.Env),
	}
	in := &batch.SubmitJobInput{
		JobName:       aws.String(s.Name),
		JobQueue:      aws.String(t.JobQueue),
		JobDefinition: aws.String(t.JobDefinition),
		Tags:          map[string]string{TagCluster: t.Cluster},
		PropagateTags: aws.Bool(true),
	}
	if s.Nodes > 1 {
		def, err := MultiNodeDefinition(ctx, api, t)
		if err != nil {
			return Job{}, err
		}
		in.JobDefinition = aws.String(def)
		in.NodeOverrides = &types.NodeOverrides{
			NumNodes: aws.Int32(int32(s.Nodes)),
			NodePropertyOverrides: []types.NodePropertyOverride{{
				TargetNodes:        aws.String("0:"),
				ContainerOverrides: overrides,
			}},
		}
	} else {
		in.ContainerOverrides = overrides
	}
	if s.ArraySize > 1 {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(int32(s.ArraySize))}
	}
	for _, d := range s.DependsOn {
		dep := types.JobDependency{JobId: aws.String(d.JobID)}
		if d.Type != "" {
			dep.Type = types.ArrayJobDependency(d.Type)
		}
		in.DependsOn = append(in.DependsOn, dep)
	}
	if s.Timeout > 0 {
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(int32(s.Timeout / time.Second))}
	}
	if s.Retries > 0 {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(int32(s.Retries + 1))}
	}
	out, err := api.SubmitJob(ctx, in)
	if err != nil {
		return Job{}, fmt.Errorf("submit job %s to %s: %w", s.Name, nameOf(t.JobQueue), err)
	}
	return Job{ID: aws.ToString(out.JobId), Name: aws.ToString(out.JobName), ARN: aws.ToString(out.JobArn)}, nil
}

// TagCluster tags the jobs and job definitions the client side makes, so
// they can be told apart by cluster (the same key pkg/render uses).
const TagCluster = "driftless:cluster"

func requirements(s JobSpec) []types.ResourceRequirement {
	var out []types.ResourceRequirement
	if s.VCPUs > 0 {
		out = append(out, types.ResourceRequirement{Type: types.ResourceTypeVcpu, Value: aws.String(strconv.Itoa(s.VCPUs))})
	}
	if s.MemoryMiB > 0 {
		out = append(out, types.ResourceRequirement{Type: types.ResourceTypeMemory, Value: aws.String(strconv.Itoa(s.MemoryMiB))})
	}
	return out
}

func envPairs(env map[string]string) []types.KeyValuePair {
	var out []types.KeyValuePair
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, types.KeyValuePair{Name: aws.String(k), Value: aws.String(env[k])})
	}
	return out
}

// MultiNodeDefinition returns the ARN of the cluster's multi-node job
// definition, registering it on first use from the cluster's single-node
// definition: same container, every node, the main node 0.
//
// It is registered here rather than declared in the stack because the
// emulator's CloudFormation (moto 5.2.5) registers every
// AWS::Batch::JobDefinition as type container and fails the stack on one
// with NodeProperties. A definition registered again with the same content
// gets a new revision, so the existing ACTIVE one is reused.
func MultiNodeDefinition(ctx context.Context, api SubmitAPI, t Target) (string, error) {
	base, err := describeDefinition(ctx, api, t.JobDefinition)
	if err != nil {
		return "", err
	}
	name := aws.ToString(base.JobDefinitionName) + "-mnp"
	out, err := api.DescribeJobDefinitions(ctx, &batch.DescribeJobDefinitionsInput{
		JobDefinitionName: aws.String(name),
		Status:            aws.String("ACTIVE"),
	})
	if err != nil {
		return "", fmt.Errorf("describe job definition %s: %w", name, err)
	}
	var newest *types.JobDefinition
	for i := range out.JobDefinitions {
		d := &out.JobDefinitions[i]
		if newest == nil || aws.ToInt32(d.Revision) > aws.ToInt32(newest.Revision) {
			newest = d
		}
	}
	if newest != nil {
		return aws.ToString(newest.JobDefinitionArn), nil
	}
	if base.ContainerProperties == nil {
		return "", fmt.Errorf("job definition %s has no container to run on every node", nameOf(t.JobDefinition))
	}
	reg, err := api.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(name),
		Type:              types.JobDefinitionTypeMultinode,
		NodeProperties: &types.NodeProperties{
			NumNodes: aws.Int32(2),
			MainNode: aws.Int32(0),
			NodeRangeProperties: []types.NodeRangeProperty{{
				TargetNodes: aws.String("0:"),
				Container:   base.ContainerProperties,
			}},
		},
		Tags: map[string]string{TagCluster: t.Cluster},
	})
	if err != nil {
		return "", fmt.Errorf("register multi-node job definition %s: %w", name, err)
	}
	return aws.ToString(reg.JobDefinitionArn), nil
}

func describeDefinition(ctx context.Context, api SubmitAPI, arn string) (*types.JobDefinition, error) {
	out, err := api.DescribeJobDefinitions(ctx, &batch.DescribeJobDefinitionsInput{JobDefinitions: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("describe job definition %s: %w", nameOf(arn), err)
	}
	if len(out.JobDefinitions) == 0 {
		return nil, fmt.Errorf("job definition %s not found", nameOf(arn))
	}
	return &out.JobDefinitions[0], nil
}
