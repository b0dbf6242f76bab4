package observe

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/driftless/driftless/pkg/render"
)

// TestOwners covers the stack-name tag, which real CloudFormation sets on
// the groups it creates and moto does not.
func TestOwners(t *testing.T) {
	byStack := map[string]int{"driftless-a": 0, "driftless-b": 1, "driftless-b-old": 2}
	byCluster := map[string][]int{"a": {0}, "b": {1, 2}}
	tag := func(k, v string) asgtypes.TagDescription {
		return asgtypes.TagDescription{Key: aws.String(k), Value: aws.String(v)}
	}
	tests := []struct {
		name string
		tags []asgtypes.TagDescription
		want []int
	}{
		{"stack-name tag", []asgtypes.TagDescription{tag(TagStackName, "driftless-a")}, []int{0}},
		{"stack-name tag wins over cluster tag",
			[]asgtypes.TagDescription{tag(render.TagCluster, "a"), tag(TagStackName, "driftless-b-old")}, []int{2}},
		{"stack-name tag of a stack not ours",
			[]asgtypes.TagDescription{tag(TagStackName, "other"), tag(render.TagCluster, "a")}, nil},
		{"cluster tag", []asgtypes.TagDescription{tag(render.TagCluster, "a")}, []int{0}},
		{"cluster tag of a cluster with two stacks", []asgtypes.TagDescription{tag(render.TagCluster, "b")}, nil},
		{"cluster tag of an unknown cluster", []asgtypes.TagDescription{tag(render.TagCluster, "zz")}, nil},
		{"untagged", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := owners(asgtypes.AutoScalingGroup{Tags: tt.tags}, byStack, byCluster)
			if !slices.Equal(got, tt.want) {
				t.Errorf("owners = %v, want %v", got, tt.want)
			}
		})
	}
}
