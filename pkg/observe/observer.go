package observe

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

// Stacks are the CloudFormation calls the Observer makes;
// *cloudformation.Client satisfies it.
type Stacks interface {
	CFN
	GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
	ListStacks(ctx context.Context, in *cloudformation.ListStacksInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.ListStacksOutput, error)
}

// Detector is CloudFormation's drift detection; *cloudformation.Client
// satisfies it. moto 5.x does not implement either call.
type Detector interface {
	DetectStackDrift(ctx context.Context, in *cloudformation.DetectStackDriftInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DetectStackDriftOutput, error)
	DescribeStackResourceDrifts(ctx context.Context, in *cloudformation.DescribeStackResourceDriftsInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourceDriftsOutput, error)
}

// Instances is the EC2 call that finds head nodes; *ec2.Client satisfies
// it.
type Instances interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput,
		opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

var (
	_ Stacks    = (*cloudformation.Client)(nil)
	_ Detector  = (*cloudformation.Client)(nil)
	_ Instances = (*ec2.Client)(nil)
)

// DefaultMaxDetections bounds how many stacks start a CloudFormation drift
// detection in one cycle: AWS throttles DetectStackDrift, and each
// detection describes every resource of the stack.
const DefaultMaxDetections = 5

// Observer reads what is live for one cycle. Beyond Observe's two
// paginated calls it reads only where something may differ:
//
//   - the live template (GetTemplate) of a stack whose spec hash differs
//     from the repo's, so the plan can explain the change;
//   - the deleted stack of a declared cluster that has no stack (one
//     paginated ListStacks, then DescribeStacks of the deleted stack's
//     id), so the plan can tell a stack deleted behind the repo's back
//     from a cluster never created;
//   - the head nodes of all our stacks, with one paginated
//     DescribeInstances, when Instances is set;
//   - CloudFormation's drift detection results, when Detector is set and
//     DriftInterval is positive.
type Observer struct {
	Stacks Stacks
	Groups ASG
	// Instances, when set, finds each stack's head node by the tags
	// CloudFormation puts on instances it creates.
	Instances Instances
	// Detector, when set with a positive DriftInterval, starts
	// CloudFormation drift detection on each stable stack at most once
	// per DriftInterval, and reads what the last detection found.
	Detector      Detector
	DriftInterval time.Duration
	// MaxDetections bounds detections started per cycle; zero means
	// DefaultMaxDetections.
	MaxDetections int
	// Log receives what goes wrong in the optional reads; nil discards.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Observe returns every live stack of ours, as the package function does,
// with the extra reads above. desired maps each cluster the repo declares
// to the hash of its rendered template. The deleted stack of a declared
// cluster is returned with Status DELETE_COMPLETE.
func (o *Observer) Observe(ctx context.Context, desired map[string]string) ([]diff.Live, error) {
	lives, described, err := observe(ctx, o.Stacks, o.Groups)
	if err != nil {
		return nil, err
	}
	for i := range lives {
		l := &lives[i]
		want, declared := desired[l.Cluster]
		if !declared || want == l.Hash || diff.StatusKind(l.Status) != diff.Stable {
			continue
		}
		body, err := o.template(ctx, l.StackID)
		if err != nil {
			return nil, err
		}
		l.Template = body
	}
	if o.Instances != nil && len(lives) > 0 {
		if err := o.headNodes(ctx, lives); err != nil {
			return nil, err
		}
	}
	if o.Detector != nil && o.DriftInterval > 0 {
		o.detect(ctx, lives, described)
	}
	deleted, err := o.deleted(ctx, lives, desired)
	if err != nil {
		return nil, err
	}
	lives = append(lives, deleted...)
	slices.SortFunc(lives, func(a, b diff.Live) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.StackName, b.StackName))
	})
	return lives, nil
}

// template reads a stack's template as it was submitted.
func (o *Observer) template(ctx context.Context, stackID string) ([]byte, error) {
	out, err := o.Stacks.GetTemplate(ctx, &cloudformation.GetTemplateInput{
		StackName:     aws.String(stackID),
		TemplateStage: cfntypes.TemplateStageOriginal,
	})
	if err != nil {
		return nil, fmt.Errorf("get template of %s: %w", stackID, err)
	}
	return []byte(aws.ToString(out.TemplateBody)), nil
}

// deleted finds, for each declared cluster without a stack, its most
// recently deleted stack that carried our cluster tag.
func (o *Observer) deleted(ctx context.Context, lives []diff.Live, desired map[string]string) ([]diff.Live, error) {
	missing := map[string]string{} // stack name → cluster
	for c := range desired {
		missing[render.StackName(c)] = c
	}
	for _, l := range lives {
		delete(missing, l.StackName)
		delete(missing, render.StackName(l.Cluster))
	}
	if len(missing) == 0 {
		return nil, nil
	}
	latest := map[string]cfntypes.StackSummary{}
	p := cloudformation.NewListStacksPaginator(o.Stacks, &cloudformation.ListStacksInput{
		StackStatusFilter: []cfntypes.StackStatus{cfntypes.StackStatusDeleteComplete},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list deleted stacks: %w", err)
		}
		for _, s := range page.StackSummaries {
			name := aws.ToString(s.StackName)
			if _, ok := missing[name]; !ok || s.StackStatus != cfntypes.StackStatusDeleteComplete {
				continue
			}
			if prev, ok := latest[name]; !ok || when(s).After(when(prev)) {
				latest[name] = s
			}
		}
	}
	var out []diff.Live
	for name, s := range latest {
		// Only a stack's id still describes it once deleted; its tags say
		// whether it was ours.
		d, err := o.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: s.StackId})
		if err != nil || len(d.Stacks) == 0 {
			o.logger().Debug("deleted stack not described", "stack", name, "error", err)
			continue
		}
		st := d.Stacks[0]
		var cluster string
		for _, t := range st.Tags {
			if aws.ToString(t.Key) == render.TagCluster {
				cluster = aws.ToString(t.Value)
			}
		}
		if cluster != missing[name] {
			continue
		}
		l := diff.Live{Cluster: cluster, StackName: name, StackID: aws.ToString(s.StackId),
			Status: string(cfntypes.StackStatusDeleteComplete)}
		if t := s.DeletionTime; t != nil {
			l.StatusReason = "deleted at " + t.UTC().Format(time.RFC3339)
		}
		out = append(out, l)
	}
	return out, nil
}

func when(s cfntypes.StackSummary) time.Time {
	if s.DeletionTime != nil {
		return *s.DeletionTime
	}
	return aws.ToTime(s.CreationTime)
}

// Tags CloudFormation puts on the EC2 resources it creates; they cannot be
// removed by anyone (the aws: prefix is reserved), so they find the head
// node whatever a person did to its other tags.
const (
	tagLogicalID = "aws:cloudformation:logical-id"
	// filterValues is the most values one EC2 filter takes.
	filterValues = 200
)

// headNodes finds the head node of every stable stack. A stack whose head
// node EC2 does not list gets State diff.InstanceMissing.
func (o *Observer) headNodes(ctx context.Context, lives []diff.Live) error {
	byStack := map[string]int{}
	var names []string
	for i, l := range lives {
		if diff.StatusKind(l.Status) != diff.Stable {
			continue
		}
		byStack[l.StackName] = i
		names = append(names, l.StackName)
	}
	found := map[int]*diff.Instance{}
	for chunk := range slices.Chunk(names, filterValues) {
		p := ec2.NewDescribeInstancesPaginator(o.Instances, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{
				{Name: aws.String("tag:" + tagLogicalID), Values: []string{diff.HeadNodeLogicalID}},
				{Name: aws.String("tag:" + TagStackName), Values: chunk},
			},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describe head nodes: %w", err)
			}
			for _, r := range page.Reservations {
				for _, in := range r.Instances {
					inst := instance(in)
					i, ok := byStack[inst.Tags[TagStackName]]
					if !ok {
						continue
					}
					// A replaced head node lingers as terminated for a
					// while: the one that is not gone wins.
					if prev := found[i]; prev == nil || gone(prev.State) && !gone(inst.State) {
						found[i] = inst
					}
				}
			}
		}
	}
	for _, i := range byStack {
		if inst := found[i]; inst != nil {
			lives[i].HeadNode = inst
		} else {
			lives[i].HeadNode = &diff.Instance{State: diff.InstanceMissing}
		}
	}
	return nil
}

func instance(in ec2types.Instance) *diff.Instance {
	tags := make(map[string]string, len(in.Tags))
	for _, t := range in.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	state := ""
	if in.State != nil {
		state = string(in.State.Name)
	}
	return &diff.Instance{ID: aws.ToString(in.InstanceId), State: state, Tags: tags}
}

func gone(state string) bool {
	return state == "terminated" || state == "shutting-down" || state == diff.InstanceMissing
}

// detect reads the last drift detection of every stable stack, when it is
// newer than the stack's last change, and starts a new detection on the
// stacks checked longest ago. Drift detection is an extra: its failures
// are logged, never fatal to the cycle.
func (o *Observer) detect(ctx context.Context, lives []diff.Live, described map[string]cfntypes.Stack) {
	now := o.now()
	type candidate struct {
		i    int
		last time.Time
	}
	var due []candidate
	for i := range lives {
		l := &lives[i]
		s, ok := described[l.StackID]
		if !ok || diff.StatusKind(l.Status) != diff.Stable {
			continue
		}
		changed := aws.ToTime(s.CreationTime)
		if s.LastUpdatedTime != nil {
			changed = *s.LastUpdatedTime
		}
		var checked time.Time
		status := cfntypes.StackDriftStatusNotChecked
		if di := s.DriftInformation; di != nil {
			checked, status = aws.ToTime(di.LastCheckTimestamp), di.StackDriftStatus
		}
		if status == cfntypes.StackDriftStatusDrifted && checked.After(changed) {
			drifts, err := o.resourceDrifts(ctx, l.StackID)
			if err != nil {
				o.logger().Warn("reading CloudFormation drift failed", "stack", l.StackName, "error", err)
			}
			l.ResourceDrift = drifts
		}
		if checked.IsZero() || now.Sub(checked) >= o.DriftInterval || changed.After(checked) && now.Sub(changed) >= o.DriftInterval {
			due = append(due, candidate{i, checked})
		}
	}
	slices.SortFunc(due, func(a, b candidate) int { return a.last.Compare(b.last) })
	limit := o.MaxDetections
	if limit <= 0 {
		limit = DefaultMaxDetections
	}
	for _, c := range due[:min(limit, len(due))] {
		l := lives[c.i]
		if _, err := o.Detector.DetectStackDrift(ctx, &cloudformation.DetectStackDriftInput{StackName: aws.String(l.StackID)}); err != nil {
			o.logger().Warn("starting CloudFormation drift detection failed", "stack", l.StackName, "error", err)
			continue
		}
		o.logger().Debug("started CloudFormation drift detection", "stack", l.StackName)
	}
}

// resourceDrifts lists the resources of a stack that drift detection
// found modified or deleted.
func (o *Observer) resourceDrifts(ctx context.Context, stackID string) ([]diff.ResourceDrift, error) {
	var out []diff.ResourceDrift
	var token *string
	for {
		page, err := o.Detector.DescribeStackResourceDrifts(ctx, &cloudformation.DescribeStackResourceDriftsInput{
			StackName:                       aws.String(stackID),
			StackResourceDriftStatusFilters: []cfntypes.StackResourceDriftStatus{cfntypes.StackResourceDriftStatusModified, cfntypes.StackResourceDriftStatusDeleted},
			NextToken:                       token,
		})
		if err != nil {
			return out, err
		}
		for _, d := range page.StackResourceDrifts {
			rd := diff.ResourceDrift{LogicalID: aws.ToString(d.LogicalResourceId), Type: aws.ToString(d.ResourceType),
				Status: string(d.StackResourceDriftStatus)}
			for _, p := range d.PropertyDifferences {
				rd.Properties = append(rd.Properties, fmt.Sprintf("%s: %s → %s", aws.ToString(p.PropertyPath),
					orAbsent(aws.ToString(p.ExpectedValue)), orAbsent(aws.ToString(p.ActualValue))))
			}
			out = append(out, rd)
		}
		if page.NextToken == nil || aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		token = page.NextToken
	}
}

func orAbsent(s string) string {
	if s == "" || s == "null" {
		return "absent"
	}
	return s
}

func (o *Observer) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Observer) logger() *slog.Logger {
	if o.Log != nil {
		return o.Log
	}
	return slog.New(slog.DiscardHandler)
}
