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

	"github.com/driftless/driftless/pkg/awsclient"
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
	ContinueUpdateRollback(ctx context.Context, in *cloudformation.ContinueUpdateRollbackInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.ContinueUpdateRollbackOutput, error)
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error)
	DescribeStackResources(ctx context.Context, in *cloudformation.DescribeStackResourcesInput,
		opts ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error)
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
	// Progress, if set, is given every stack event as it arrives while a
	// change is waited for. Applies of several clusters call it at once,
	// so it must be safe for concurrent use.
	Progress func(Event)
	// Images resolves the image parameters of a stack being created
	// (render.ImageParameter); a stack that has them cannot be created
	// without it.
	Images Images
	// RoleARN, when set, is the CloudFormation service role that every
	// create, update, delete and continued rollback names: CloudFormation
	// then acts with that role's permissions rather than the caller's,
	// and the daemon's own credentials need only iam:PassRole on it.
	RoleARN string
	// Retain lists, per cluster, the logical ids of resources a person
	// has allowed the daemon to leave as they are: a retried delete of a
	// DELETE_FAILED stack keeps them (RetainResources) and a continued
	// rollback skips them (ResourcesToSkip). Without an entry nothing is
	// left behind on purpose.
	Retain map[string][]string
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

// Apply carries out ch and waits for the stack to settle; revision is the
// commit the change comes from, recorded in the stack's tags.
//
// Create, Update, Delete, Recreate and ContinueRollback call
// CloudFormation. Wait issues nothing: it follows the operation already
// running on the stack to its end, as a daemon restarted mid-apply must.
// Blocked issues nothing either: it reads the stack's events and returns a
// *StackFailedError that quotes the resource that failed. Every other
// action does nothing.
func (a *Applier) Apply(ctx context.Context, ch diff.Change, revision string) (Result, error) {
	start := a.now()
	res := Result{Cluster: ch.Cluster, Action: ch.Action}
	log := a.logger().With("cluster", ch.Cluster, "action", string(ch.Action), "revision", revision)
	w := &waiter{a: a, cluster: ch.Cluster, start: start}

	var (
		status string
		err    error
	)
	switch ch.Action {
	case diff.Create:
		status, err = a.create(ctx, log, w, ch, revision, "")
	case diff.Update:
		status, err = a.update(ctx, log, w, ch, revision)
	case diff.Delete:
		status, err = a.delete(ctx, log, w, ch.Cluster, ch.Live)
	case diff.Recreate:
		status, err = a.recreate(ctx, log, w, ch, revision)
	case diff.ContinueRollback:
		status, err = a.continueRollback(ctx, log, w, ch)
	case diff.Wait:
		status, err = a.settle(ctx, log, w, ch)
	case diff.Blocked:
		status, err = a.explain(ctx, ch)
	default:
		log.DebugContext(ctx, "nothing to apply", "reason", ch.Reason)
		return res, nil
	}
	res.StackStatus = status
	res.Duration = a.now().Sub(start)
	if err != nil {
		return res, err
	}
	if ch.Action != diff.Blocked {
		log.InfoContext(ctx, "applied", "status", status, "duration", res.Duration)
	}
	return res, nil
}

func (a *Applier) create(ctx context.Context, log *slog.Logger, w *waiter, ch diff.Change, revision, replaces string) (string, error) {
	d := ch.Desired
	if d == nil {
		return "", fmt.Errorf("create %s: the change has no rendered stack", ch.Cluster)
	}
	if err := checkSize(d); err != nil {
		return "", err
	}
	log = log.With("stack", d.Name)
	// The token is derived from the plan: the same create, sent again
	// after a lost answer or a restart, is recognised as a retry. A
	// recreate names the stack it replaces, so its create is not taken
	// for the one that failed.
	token := requestToken("create", d.Name, d.Hash, replaces)
	id, fresh, err := a.createStack(ctx, log, d, revision, token)
	if err != nil {
		return "", err
	}
	if fresh {
		// CloudFormation remembers tokens for a while: a create whose
		// token it already used for a stack since deleted is answered
		// with that stack's id and does nothing.
		// A poll that fails for a passing reason leaves the question to
		// the wait, which polls again.
		live, err := a.describe(ctx, id)
		if err != nil && !passing(err) {
			return "", err
		}
		if err == nil && live != nil && live.StackStatus == cfntypes.StackStatusDeleteComplete {
			log.InfoContext(ctx, "the request token belongs to a deleted stack; creating with a new one", "deleted", id)
			id, fresh, err = a.createStack(ctx, log, d, revision, requestToken("create", d.Name, d.Hash, replaces, id))
			if err != nil {
				return "", err
			}
		}
	}
	log.InfoContext(ctx, "creating stack", "hash", d.Hash, "stack_id", id)
	status, err := w.wait(ctx, log, d.Name, id, createOp)
	if err != nil || !fresh {
		return status, err
	}
	return status, a.sizeGroups(ctx, log, d)
}

// createStack sends CreateStack. fresh is false when the stack already
// existed, made from this very template by an earlier attempt.
func (a *Applier) createStack(ctx context.Context, log *slog.Logger, d *render.Stack, revision, token string) (id string, fresh bool, err error) {
	params, err := a.createParameters(ctx, log, d)
	if err != nil {
		return "", false, err
	}
	out, err := a.Stacks.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:          aws.String(d.Name),
		TemplateBody:       aws.String(string(d.Template)),
		Parameters:         params,
		Tags:               stackTags(d, revision),
		Capabilities:       capabilities,
		ClientRequestToken: aws.String(token),
		RoleARN:            a.roleARN(),

		EnableTerminationProtection: aws.Bool(d.TerminationProtection),
	})
	switch {
	case err == nil:
		return aws.ToString(out.StackId), true, nil
	case isAPIError(err, "AlreadyExistsException"):
		// A retried create (moto says the stack exists where
		// CloudFormation answers a repeated token with the stack it made).
		// Carry on only if that stack is the one this change makes.
		live, derr := a.describe(ctx, d.Name)
		if derr != nil {
			return "", false, fmt.Errorf("create stack %s: %w (and describing it: %w)", d.Name, err, derr)
		}
		if live == nil || tagValue(live.Tags, render.TagSpecHash) != d.Hash {
			return "", false, fmt.Errorf("create stack %s: %w", d.Name, err)
		}
		log.InfoContext(ctx, "stack already being created by an earlier request", "status", string(live.StackStatus))
		// Once complete, the earlier create already sized the groups and
		// the scaler owns them since.
		return aws.ToString(live.StackId), live.StackStatus != cfntypes.StackStatusCreateComplete, nil
	}
	return "", false, classify(fmt.Errorf("create stack %s: %w", d.Name, err))
}

// sizeGroups gives a new cluster's groups their initial size, once.
func (a *Applier) sizeGroups(ctx context.Context, log *slog.Logger, d *render.Stack) error {
	for _, g := range d.Groups {
		if g.Initial <= 0 {
			continue
		}
		if _, err := a.Groups.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
			AutoScalingGroupName: aws.String(g.Name),
			DesiredCapacity:      aws.Int32(int32(g.Initial)),
			HonorCooldown:        aws.Bool(false),
		}); err != nil {
			return classify(fmt.Errorf("set initial capacity of group %s to %d: %w", g.Name, g.Initial, err))
		}
		log.InfoContext(ctx, "set initial capacity", "group", g.Name, "desired", g.Initial)
	}
	return nil
}

func (a *Applier) update(ctx context.Context, log *slog.Logger, w *waiter, ch diff.Change, revision string) (string, error) {
	d := ch.Desired
	if d == nil {
		return "", fmt.Errorf("update %s: the change has no rendered stack", ch.Cluster)
	}
	stack := d.Name
	var from, fromStatus string
	if l := ch.Live; l != nil {
		if l.StackID != "" {
			stack = l.StackID
		}
		from, fromStatus = l.Hash, l.Status
	}
	log = log.With("stack", d.Name)
	in := &cloudformation.UpdateStackInput{
		StackName:    aws.String(stack),
		Tags:         stackTags(d, revision),
		Capabilities: capabilities,
		// Derived from the plan: the live state it starts from and what
		// it makes. A resend of this update is a retry; the next update,
		// even to the same template after a rollback, starts from
		// another status and is not.
		ClientRequestToken: aws.String(requestToken("update", stack, from, fromStatus, d.Hash, revision)),
		RoleARN:            a.roleARN(),
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
	if l := ch.Live; l != nil && l.TerminationProtection != d.TerminationProtection {
		if err := a.protect(ctx, log, stack, d.TerminationProtection); err != nil {
			return "", err
		}
	}
	params, err := a.updateParameters(ctx, log, d, stack)
	if err != nil {
		return "", err
	}
	in.Parameters = params
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
		return "", classify(fmt.Errorf("update stack %s: %w", d.Name, err))
	}
	log.InfoContext(ctx, "updating stack", "hash", d.Hash, "new_template", in.UsePreviousTemplate == nil)
	return w.wait(ctx, log, d.Name, stack, updateOp)
}

func (a *Applier) delete(ctx context.Context, log *slog.Logger, w *waiter, cluster string, l *diff.Live) (string, error) {
	if l == nil {
		return "", fmt.Errorf("delete %s: the change has no live stack", cluster)
	}
	if l.TerminationProtection {
		return "", fmt.Errorf("delete stack %s: %w", l.StackName, ErrProtected)
	}
	// The id, not the name: it names this stack only, even if a stack of
	// the same name is created meanwhile, and still answers once deleted.
	stack := stackRef(l)
	log = log.With("stack", l.StackName)
	// No request token: deleting a stack that is being deleted is
	// harmless, and a token reused after DELETE_FAILED could make
	// CloudFormation ignore the second attempt.
	in := &cloudformation.DeleteStackInput{StackName: aws.String(stack), RoleARN: a.roleARN()}
	if l.Status == string(cfntypes.StackStatusDeleteFailed) {
		// RetainResources is allowed only here, and only because a
		// person listed the resources: the daemon never decides on its
		// own to leave something behind.
		if keep := a.Retain[cluster]; len(keep) > 0 {
			in.RetainResources = slices.Clone(keep)
			log.WarnContext(ctx, "retrying a failed delete, keeping the resources a person named", "retain", strings.Join(keep, ","))
		} else {
			log.InfoContext(ctx, "retrying a failed delete")
		}
	}
	if _, err := a.Stacks.DeleteStack(ctx, in); err != nil {
		if isNotFound(err) {
			return "", nil
		}
		return "", classify(fmt.Errorf("delete stack %s: %w", l.StackName, err))
	}
	log.InfoContext(ctx, "deleting stack")
	status, err := w.wait(ctx, log, l.StackName, stack, deleteOp)
	var failed *StackFailedError
	if errors.As(err, &failed) && failed.Status == string(cfntypes.StackStatusDeleteFailed) {
		failed.LeftBehind = a.leftBehind(ctx, stack)
	}
	return status, err
}

// recreate deletes a stack that never came up (or whose delete failed) and
// creates it again, as the cluster's policy.recreateFailed allows. What
// failed is logged before the evidence goes with the stack.
func (a *Applier) recreate(ctx context.Context, log *slog.Logger, w *waiter, ch diff.Change, revision string) (string, error) {
	l := ch.Live
	if l == nil || ch.Desired == nil {
		return "", fmt.Errorf("recreate %s: the change needs the live and the rendered stack", ch.Cluster)
	}
	if o, ok := failedOp(l.Status); ok {
		reason := a.failureReason(ctx, stackRef(l), o, l.StatusReason)
		log.WarnContext(ctx, "recreating a failed stack: deleting it first", "stack", l.StackName, "status", l.Status, "failure", reason)
	} else {
		log.WarnContext(ctx, "recreating the stack: deleting it first", "stack", l.StackName, "status", l.Status)
	}
	if status, err := a.delete(ctx, log, w, ch.Cluster, l); err != nil {
		return status, err
	}
	return a.create(ctx, log, w, ch, revision, stackRef(l))
}

// continueRollback gets a stack out of UPDATE_ROLLBACK_FAILED. The stack
// ends as it was before the update, so the update is still a failure, and
// is reported with what made it fail.
func (a *Applier) continueRollback(ctx context.Context, log *slog.Logger, w *waiter, ch diff.Change) (string, error) {
	l := ch.Live
	if l == nil {
		return "", fmt.Errorf("continue rollback of %s: the change has no live stack", ch.Cluster)
	}
	stack := stackRef(l)
	reason := a.failureReason(ctx, stack, updateOp, l.StatusReason)
	log = log.With("stack", l.StackName)
	log.WarnContext(ctx, "the update and its rollback failed; continuing the rollback", "failure", reason)
	in := &cloudformation.ContinueUpdateRollbackInput{StackName: aws.String(stack), RoleARN: a.roleARN()}
	if skip := a.Retain[ch.Cluster]; len(skip) > 0 {
		in.ResourcesToSkip = slices.Clone(skip)
		log.WarnContext(ctx, "skipping the resources a person named", "skip", strings.Join(skip, ","))
	}
	if _, err := a.Stacks.ContinueUpdateRollback(ctx, in); err != nil {
		return l.Status, classify(fmt.Errorf("continue rollback of stack %s: %w", l.StackName, err))
	}
	status, err := w.wait(ctx, log, l.StackName, stack, continueOp)
	if err != nil {
		return status, err
	}
	return status, &StackFailedError{Stack: l.StackName, Status: status, Reason: "rollback continued and completed; the update had failed: " + reason}
}

// settle follows an operation already running on the stack to its end.
// A create interrupted before its groups were sized is finished.
func (a *Applier) settle(ctx context.Context, log *slog.Logger, w *waiter, ch diff.Change) (string, error) {
	l := ch.Live
	if l == nil {
		return "", nil
	}
	o, ok := runningOp(l.Status)
	if !ok {
		return l.Status, nil
	}
	log = log.With("stack", l.StackName)
	log.InfoContext(ctx, "waiting for the operation running on the stack", "status", l.Status)
	status, err := w.wait(ctx, log, l.StackName, stackRef(l), o)
	if err != nil {
		return status, err
	}
	if l.Status == string(cfntypes.StackStatusCreateInProgress) && ch.Desired != nil && l.Hash == ch.Desired.Hash {
		return status, a.sizeGroups(ctx, log, ch.Desired)
	}
	return status, nil
}

// explain returns why a stack is in a failed state, from its events. A
// cluster blocked for another reason (drift left to a person, an empty or
// unknown status) has nothing to explain.
func (a *Applier) explain(ctx context.Context, ch diff.Change) (string, error) {
	l := ch.Live
	if l == nil || l.StackID == "" {
		return "", nil
	}
	switch diff.StatusKind(l.Status) {
	case diff.CreateFailed, diff.RollbackFailed, diff.DeleteFailed, diff.Stuck:
	default:
		return l.Status, nil
	}
	o, ok := failedOp(l.Status)
	if !ok {
		return l.Status, &StackFailedError{Stack: l.StackName, Status: l.Status, Reason: l.StatusReason}
	}
	err := &StackFailedError{Stack: l.StackName, Status: l.Status, Reason: a.failureReason(ctx, l.StackID, o, l.StatusReason)}
	if l.Status == string(cfntypes.StackStatusDeleteFailed) {
		err.LeftBehind = a.leftBehind(ctx, l.StackID)
	}
	return l.Status, err
}

// leftBehind lists the resources a failed delete could not remove, best
// effort.
func (a *Applier) leftBehind(ctx context.Context, stack string) []string {
	out, err := a.Stacks.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(stack)})
	if err != nil {
		a.logger().DebugContext(ctx, "listing the resources a delete left behind", "stack", stack, "error", err)
		return nil
	}
	var left []string
	for _, r := range out.StackResources {
		if r.ResourceStatus != cfntypes.ResourceStatusDeleteFailed {
			continue
		}
		s := fmt.Sprintf("%s (%s) %s", aws.ToString(r.LogicalResourceId), aws.ToString(r.ResourceType), aws.ToString(r.PhysicalResourceId))
		if why := aws.ToString(r.ResourceStatusReason); why != "" {
			s += ": " + why
		}
		left = append(left, s)
	}
	return left
}

// describe returns the stack, or nil when it does not exist.
func (a *Applier) describe(ctx context.Context, stack string) (*cfntypes.Stack, error) {
	out, err := a.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, classify(fmt.Errorf("describe stack %s: %w", stack, err))
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return &out.Stacks[0], nil
}

func stackRef(l *diff.Live) string {
	if l.StackID != "" {
		return l.StackID
	}
	return l.StackName
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
func requestToken(op string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(op))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "driftless-" + op + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// classify marks an error of an AWS call that retrying will not cure soon:
// refused credentials or permissions.
func classify(err error) error {
	if awsclient.ClassOf(err) == awsclient.ClassDenied {
		return fmt.Errorf("%w: %w", ErrDenied, err)
	}
	return err
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

// roleARN is the service role to name in a call, nil for none: the stack
// then keeps the role it was created with, if any.
func (a *Applier) roleARN() *string {
	if a.RoleARN == "" {
		return nil
	}
	return aws.String(a.RoleARN)
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
