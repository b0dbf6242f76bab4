package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
)

// Protector turns a stack's termination protection on or off. The
// CloudFormation client implements it; Stacks does not require it, so
// fakes that never change protection need not either.
type Protector interface {
	UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, opts ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error)
}

var _ Protector = (*cloudformation.Client)(nil)

// errNoProtector says the Stacks implementation cannot change protection.
var errNoProtector = errors.New("the CloudFormation client cannot change termination protection")

// protect makes the stack's termination protection what the spec's
// policy.terminationProtection says, before the update that carries the
// rest of the change. (moto 5.x has no UpdateTerminationProtection; the
// path is tested with a fake.)
func (a *Applier) protect(ctx context.Context, log *slog.Logger, stack string, on bool) error {
	p, ok := a.Stacks.(Protector)
	if !ok {
		return fmt.Errorf("termination protection of %s: %w", stack, errNoProtector)
	}
	if _, err := p.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{
		StackName:                   aws.String(stack),
		EnableTerminationProtection: aws.Bool(on),
	}); err != nil {
		return fmt.Errorf("termination protection of %s: %w", stack, err)
	}
	log.InfoContext(ctx, "termination protection set", "on", on)
	return nil
}
