package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
)

// Stacks is the CloudFormation API the applier calls;
// *cloudformation.Client satisfies it.
type Stacks interface {
	CreateStack(ctx context.Context, in *cloudformation.CreateStackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
	DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
}

// Groups is the Auto Scaling call the applier makes, once, to give a new
// cluster's groups their initial size; *autoscaling.Client satisfies it.
type Groups interface {
	SetDesiredCapacity(ctx context.Context, in *autoscaling.SetDesiredCapacityInput,
		opts ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
}

var (
	_ Stacks = (*cloudformation.Client)(nil)
	_ Groups = (*autoscaling.Client)(nil)
)

// Defaults for the zero values of Applier's durations. A cluster stack
// with a shared file system and head node takes tens of minutes.
const (
	DefaultPollInterval = 10 * time.Second
	DefaultTimeout      = time.Hour
)

// capabilities lets a template create IAM roles and instance profiles,
// which every cluster template does.
var capabilities = []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam}

// Applier carries out one change at a time and waits for CloudFormation to
// settle. Its zero durations take the defaults; a nil Log discards.
type Applier struct {
	Stacks Stacks
	Groups Groups
	Log    *slog.Logger
	// PollInterval is the wait between two DescribeStacks while a stack
	// is busy.
	PollInterval time.Duration
	// Timeout bounds the wait for one change. When it runs out, Apply
	// returns a *TimeoutError and CloudFormation carries on.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is what one Apply did.
type Result struct {
	Cluster string
	Action  diff.Action
	// StackStatus is the last status seen; empty when nothing was done or
	// the stack is gone.
	StackStatus string
	Duration    time.Duration
}

// Apply carries out ch. Create, Update and Delete call CloudFormation and
// wait for the stack to settle; every other action does nothing. revision
// is the commit the change comes from, recorded in the stack's tags.
func (a *Applier) Apply(ctx context.Context, ch diff.Change, revision string) (Result, error) {
	start := a.now()
	res := Result{Cluster: ch.Cluster, Action: ch.Action}
	log := a.logger().With("cluster", ch.Cluster, "action", string(ch.Action), "revision", revision)

	var (
		status string
		err    error
	)
	switch ch.Action {
	case diff.Create:
		status, err = a.create(ctx, log, ch, revision)
	case diff.Update:
		status, err = a.update(ctx, log, ch, revision)
	case diff.Delete:
		status, err = a.delete(ctx, log, ch)
	default:
		log.DebugContext(ctx, "nothing to apply", "reason", ch.Reason)
		return res, nil
	}
	res.StackStatus = status
	res.Duration = a.now().Sub(start)
	if err != nil {
		return res, err
	}
	log.InfoContext(ctx, "applied", "status", status, "duration", res.Duration)
	return res, nil
}

func (a *Applier) create(ctx context.Context, log *slog.Logger, ch diff.Change, revision string) (string, error) {
	d := ch.Desired
	if d == nil {
		return "", fmt.Errorf("create %s: the change has no rendered stack", ch.Cluster)
	}
	if err := checkSize(d); err != nil {
		return "", err
	}
	log = log.With("stack", d.Name)
	token := requestToken("create", d.Name, d.Hash)
	out, err := a.Stacks.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:          aws.String(d.Name),
		TemplateBody:       aws.String(string(d.Template)),
		Tags:               stackTags(d, revision),
		Capabilities:       capabilities,
		ClientRequestToken: aws.String(token),
	})
	id := d.Name
	fresh := true
	switch {
	case err == nil:
		id = aws.ToString(out.StackId)
	case isAPIError(err, "AlreadyExistsException"):
		// A retried create: CloudFormation answers a repeated token with
		// the stack it already made (moto says it exists). Carry on
		// waiting only if that stack is the one this change makes.
		live, derr := a.describe(ctx, d.Name)
		if derr != nil {
			return "", fmt.Errorf("create stack %s: %w (and describing it: %v)", d.Name, err, derr)
		}
		if live == nil || tagValue(live.Tags, render.TagSpecHash) != d.Hash {
			return "", fmt.Errorf("create stack %s: %w", d.Name, err)
		}
		id = aws.ToString(live.StackId)
		// Once complete, the earlier create already sized the groups and
		// the scaler owns them since.
		fresh = live.StackStatus != cfntypes.StackStatusCreateComplete
		log.InfoContext(ctx, "stack already being created by an earlier request", "status", string(live.StackStatus))
	default:
		return "", fmt.Errorf("create stack %s: %w", d.Name, err)
	}
	log.InfoContext(ctx, "creating stack", "hash", d.Hash)
	status, err := a.wait(ctx, log, d.Name, id, createOp)
	if err != nil || !fresh {
		return status, err
	}
	for _, g := range d.Groups {
		if g.Initial <= 0 {
			continue
		}
		if _, err := a.Groups.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: aws.String(g.Name),
			DesiredCapacity:      aws.Int32(int32(g.Initial)),
			HonorCooldown:        aws.Bool(false),
		}); err != nil {
			return status, fmt.Errorf("set initial capacity of group %s to %d: %w", g.Name, g.Initial, err)
		}
		log.InfoContext(ctx, "set initial capacity", "group", g.Name, "desired", g.Initial)
	}
	return status, nil
}

func (a *Applier) update(ctx context.Context, log *slog.Logger, ch diff.Change, revision string) (string, error) {
	d := ch.Desired
	if d == nil {
		return "", fmt.Errorf("update %s: the change has no rendered stack", ch.Cluster)
	}
	stack := d.Name
	if ch.Live != nil && ch.Live.StackID != "" {
		stack = ch.Live.StackID
	}
	log = log.With("stack", d.Name)
	in := &cloudformation.UpdateStackInput{
		StackName:    aws.String(stack),
		Tags:         stackTags(d, revision),
		Capabilities: capabilities,
	}
	if ch.Live != nil && ch.Live.Hash == d.Hash {
		// Same template, other tags (a new revision or user tags): tags
		// alone are an update, and resending the body would be waste.
		in.UsePreviousTemplate = aws.Bool(true)
	} else {
		if err := checkSize(d); err != nil {
			return "", err
		}
		in.TemplateBody = aws.String(string(d.Template))
	}
	if _, err := a.Stacks.UpdateStack(ctx, in); err != nil {
		if isNoUpdates(err) {
			log.DebugContext(ctx, "no updates to perform")
			live, err := a.describe(ctx, stack)
			switch {
			case err != nil:
				return "", err
			case live == nil:
				return "", fmt.Errorf("update stack %s: gone after an empty update", d.Name)
			}
			return string(live.StackStatus), nil
		}
		return "", fmt.Errorf("update stack %s: %w", d.Name, err)
	}
	log.InfoContext(ctx, "updating stack", "hash", d.Hash, "new_template", in.UsePreviousTemplate == nil)
	return a.wait(ctx, log, d.Name, stack, updateOp)
}

func (a *Applier) delete(ctx context.Context, log *slog.Logger, ch diff.Change) (string, error) {
	l := ch.Live
	if l == nil {
		return "", fmt.Errorf("delete %s: the change has no live stack", ch.Cluster)
	}
	if l.TerminationProtection {
		return "", fmt.Errorf("delete stack %s: %w", l.StackName, ErrProtected)
	}
	// The id, not the name: it names this stack only, even if a stack of
	// the same name is created meanwhile, and still answers once deleted.
	stack := l.StackID
	if stack == "" {
		stack = l.StackName
	}
	log = log.With("stack", l.StackName)
	// No request token: deleting a stack that is being deleted is
	// harmless, and a token reused after DELETE_FAILED could make
	// CloudFormation ignore the second attempt.
	if _, err := a.Stacks.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(stack)}); err != nil {
		if isNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("delete stack %s: %w", l.StackName, err)
	}
	log.InfoContext(ctx, "deleting stack")
	return a.wait(ctx, log, l.StackName, stack, deleteOp)
}

// describe returns the stack, or nil when it does not exist.
func (a *Applier) describe(ctx context.Context, stack string) (*cfntypes.Stack, error) {
	out, err := a.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

func checkSize(d *render.Stack) error {
	if n := len(d.Template); n > MaxTemplateBody {
		return fmt.Errorf("stack %s: template is %d bytes, CloudFormation takes %d inline: %w",
			d.Name, n, MaxTemplateBody, ErrTemplateTooLarge)
	}
	return nil
}

// stackTags are the rendered tags plus what this apply records: the
// revision and the template's hash. Sorted, so the same change always
// sends the same request.
func stackTags(d *render.Stack, revision string) []cfntypes.Tag {
	tags := maps.Clone(d.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[render.TagCluster] = d.Cluster
	tags[render.TagRevision] = revision
	tags[render.TagSpecHash] = d.Hash
	out := make([]cfntypes.Tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, cfntypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

func tagValue(tags []cfntypes.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// requestToken derives a ClientRequestToken from what the request does, so
// that sending the same request again is recognised as a retry. Tokens
// must match [a-zA-Z][-a-zA-Z0-9]* and stay under 128 characters.
func requestToken(op, stack, hash string) string {
	sum := sha256.Sum256([]byte(op + "\x00" + stack + "\x00" + hash))
	return "driftless-" + op + "-" + hex.EncodeToString(sum[:16])
}

func isAPIError(err error, code string) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == code
}

// isNoUpdates matches CloudFormation's answer to an update that changes
// nothing, a ValidationError told apart only by its message. moto 5.x
// never sends it: it applies the empty update.
func isNoUpdates(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationError" &&
		strings.Contains(api.ErrorMessage(), "No updates are to be performed")
}

// isNotFound matches the ValidationError "Stack with id X does not exist".
func isNotFound(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ValidationError" &&
		strings.Contains(api.ErrorMessage(), "does not exist")
}

func (a *Applier) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Applier) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}
