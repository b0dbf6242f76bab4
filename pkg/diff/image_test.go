package diff

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/render"
)

// withImageParameter returns the template body with the definition of one
// parameter replaced, or removed when def is nil.
func withImageParameter(t *testing.T, body []byte, name string, def map[string]any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	params := doc["Parameters"].(map[string]any)
	if def == nil {
		delete(params, name)
	} else {
		params[name] = def
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// olderLive is the live stack of d as an older Driftless left it: the same
// groups, another hash, the given template.
func olderLive(d *render.Stack, body []byte) Live {
	l := Live{Cluster: d.Cluster, StackName: d.Name, StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/" + d.Name + "/1",
		Status: "UPDATE_COMPLETE", Hash: "older", Template: body, Tags: map[string]string{render.TagCluster: d.Cluster}}
	for _, g := range d.Groups {
		l.Groups = append(l.Groups, LiveGroup{Name: g.Name, Min: g.Min, Max: g.Max})
	}
	return l
}

// TestImageParameters: the image parameters take the value apply passes,
// the stack's own on an update, so a new definition of one the live
// template has (the SSM-typed parameter of an older template becoming a
// plain image id) replaces nothing and goes ahead; a parameter the live
// template lacks (a new base OS or architecture) is a new image, which
// replaces the head node and waits for approval.
func TestImageParameters(t *testing.T) {
	d := rendered(t, parsed(t, baseSpec))
	if len(d.Images) == 0 {
		t.Fatal("the base spec renders no image parameter")
	}
	name := d.Images[0].Name
	ssmTyped := map[string]any{
		"Type":        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
		"Default":     d.Images[0].Path,
		"Description": "SSM parameter naming the image of nodes without a custom AMI",
	}
	tests := []struct {
		name       string
		live       []byte
		wantAction Action
		// wantReplaced is a resource the plan must show replaced, or "".
		wantReplaced string
	}{
		{"ssm-typed parameter becomes a plain image id", withImageParameter(t, d.Template, name, ssmTyped), Update, ""},
		{"only the description changes", withImageParameter(t, d.Template, name, map[string]any{"Type": "AWS::EC2::Image::Id", "Description": "older words"}), Update, ""},
		{"a default appears", withImageParameter(t, d.Template, name, map[string]any{"Type": "AWS::EC2::Image::Id", "Default": "ami-0123456789abcdef0"}), Update, ""},
		{"new parameter", withImageParameter(t, d.Template, name, nil), Hold, "HeadNode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := Plan(Input{Desired: []*render.Stack{d}, Live: []Live{olderLive(d, tt.live)}})[0]
			if ch.Action != tt.wantAction {
				t.Fatalf("action %s (%s: %s), want %s", ch.Action, ch.Hold, ch.Reason, tt.wantAction)
			}
			var replaced []string
			for _, r := range ch.Resources {
				if r.Replaces() {
					replaced = append(replaced, r.LogicalID)
				}
			}
			switch {
			case tt.wantReplaced == "" && len(replaced) > 0:
				t.Errorf("replaces %v; the image is kept", replaced)
			case tt.wantReplaced != "" && !slices.Contains(replaced, tt.wantReplaced):
				t.Errorf("replaces %v, want %s among them", replaced, tt.wantReplaced)
			}
			if tt.wantAction == Hold && !strings.Contains(ch.Reason, "approv") {
				t.Errorf("held for %q; want an approval", ch.Reason)
			}
		})
	}
}
