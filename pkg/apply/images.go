package apply

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/pkg/render"
)

// Images reads the public SSM parameter that names the newest image of a
// base OS; *ssm.Client satisfies it.
type Images interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput,
		opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

var _ Images = (*ssm.Client)(nil)

// createParameters gives every image parameter of d the image its SSM path
// names now (render.ImageParameter).
func (a *Applier) createParameters(ctx context.Context, log *slog.Logger, d *render.Stack) ([]cfntypes.Parameter, error) {
	return a.imageParameters(ctx, log, d, nil)
}

// updateParameters keeps the image of every image parameter the stack
// already has and resolves only the new ones. A spec that changes its base
// OS or an instance's architecture gets a new parameter and a new image;
// any other update keeps the image the stack runs, whatever was published
// since. The stack's parameters are read just before the update rather
// than taken from the plan's observation, so a Live without them can never
// make an update resolve an image anew.
func (a *Applier) updateParameters(ctx context.Context, log *slog.Logger, d *render.Stack, stack string) ([]cfntypes.Parameter, error) {
	if len(d.Images) == 0 {
		return nil, nil
	}
	live, err := a.describe(ctx, stack)
	if err != nil {
		return nil, err
	}
	if live == nil {
		return nil, fmt.Errorf("update stack %s: the stack does not exist", d.Name)
	}
	return a.imageParameters(ctx, log, d, live.Parameters)
}

func (a *Applier) imageParameters(ctx context.Context, log *slog.Logger, d *render.Stack, live []cfntypes.Parameter) ([]cfntypes.Parameter, error) {
	if len(d.Images) == 0 {
		return nil, nil
	}
	prev := make(map[string]cfntypes.Parameter, len(live))
	for _, p := range live {
		prev[aws.ToString(p.ParameterKey)] = p
	}
	out := make([]cfntypes.Parameter, 0, len(d.Images))
	for _, img := range d.Images {
		p := cfntypes.Parameter{ParameterKey: aws.String(img.Name)}
		old, ok := prev[img.Name]
		switch {
		case ok && aws.ToString(old.ResolvedValue) != "":
			// A parameter of an SSM type, from a template rendered before
			// images were pinned: CloudFormation reports the image it
			// resolved at the stack's last create or update. Passing
			// that image keeps the nodes as they are while the parameter
			// becomes a plain image id.
			p.ParameterValue = old.ResolvedValue
			log.InfoContext(ctx, "pinning the image the stack runs", "parameter", img.Name, "image", aws.ToString(old.ResolvedValue))
		case ok:
			p.UsePreviousValue = aws.Bool(true)
		default:
			id, err := a.resolveImage(ctx, img)
			if err != nil {
				return nil, err
			}
			p.ParameterValue = aws.String(id)
			log.InfoContext(ctx, "resolved image", "parameter", img.Name, "path", img.Path, "image", id)
		}
		out = append(out, p)
	}
	return out, nil
}

// resolveImage reads the image id that an image parameter's SSM path
// names now.
func (a *Applier) resolveImage(ctx context.Context, img render.ImageParameter) (string, error) {
	if a.Images == nil {
		return "", fmt.Errorf("image parameter %s: no SSM client to read %s", img.Name, img.Path)
	}
	out, err := a.Images.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(img.Path)})
	if err != nil {
		return "", classify(fmt.Errorf("image parameter %s: read %s: %w", img.Name, img.Path, err))
	}
	var id string
	if out.Parameter != nil {
		id = aws.ToString(out.Parameter.Value)
	}
	if !strings.HasPrefix(id, "ami-") {
		return "", fmt.Errorf("image parameter %s: %s holds %q, not an image id", img.Name, img.Path, id)
	}
	return id, nil
}
