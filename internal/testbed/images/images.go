// Package images gives the image parameters of a rendered stack the values
// apply gives them when it creates the stack, for tests that create
// rendered stacks with the SDK themselves. A template's image parameters
// have no default (render.ImageParameter): a create without them fails.
//
// moto 5.x publishes the Amazon Linux paths only; a spec on another base
// OS names its AMI in such tests.
//
// It is test infrastructure only; nothing outside _test.go files imports it.
package images

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/driftless/driftless/pkg/render"
)

// Parameters resolves every image parameter of st from SSM, reached with
// the endpoint, region and credentials of cfn, and fails the test when one
// cannot be.
func Parameters(t testing.TB, cfn *cloudformation.Client, st *render.Stack) []cfntypes.Parameter {
	t.Helper()
	if len(st.Images) == 0 {
		return nil
	}
	o := cfn.Options()
	api := ssm.New(ssm.Options{Region: o.Region, BaseEndpoint: o.BaseEndpoint, Credentials: o.Credentials, HTTPClient: o.HTTPClient})
	out := make([]cfntypes.Parameter, 0, len(st.Images))
	for _, img := range st.Images {
		p, err := api.GetParameter(t.Context(), &ssm.GetParameterInput{Name: aws.String(img.Path)})
		if err != nil {
			t.Fatalf("image parameter %s of %s: %v", img.Name, st.Name, err)
		}
		out = append(out, cfntypes.Parameter{ParameterKey: aws.String(img.Name), ParameterValue: p.Parameter.Value})
	}
	return out
}
