package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/driftless/driftless/pkg/spec"
)

// template is a CloudFormation template. Its bytes come from encode, which
// sorts every object's keys, so field order here does not matter.
type template struct {
	AWSTemplateFormatVersion string               `json:"AWSTemplateFormatVersion"`
	Description              string               `json:"Description"`
	Metadata                 map[string]any       `json:"Metadata,omitempty"`
	Parameters               map[string]parameter `json:"Parameters,omitempty"`
	Conditions               map[string]any       `json:"Conditions,omitempty"`
	Resources                map[string]resource  `json:"Resources"`
	Outputs                  map[string]output    `json:"Outputs,omitempty"`
}

type parameter struct {
	Type        string `json:"Type"`
	Default     string `json:"Default,omitempty"`
	Description string `json:"Description,omitempty"`
}

type resource struct {
	Type                string         `json:"Type"`
	Condition           string         `json:"Condition,omitempty"`
	DependsOn           []string       `json:"DependsOn,omitempty"`
	DeletionPolicy      string         `json:"DeletionPolicy,omitempty"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy,omitempty"`
	Metadata            map[string]any `json:"Metadata,omitempty"`
	Properties          map[string]any `json:"Properties"`
}

type output struct {
	Description string `json:"Description,omitempty"`
	Condition   string `json:"Condition,omitempty"`
	Value       any    `json:"Value"`
}

// builder collects the pieces of one template and refuses to declare the
// same logical id twice, which CloudFormation would otherwise resolve by
// silently keeping the last one.
type builder struct {
	c         *spec.Cluster
	stackName string
	t         template
	err       error
	// images maps each image parameter declared to its SSM path.
	images map[string]string
}

func (b *builder) addResource(id string, r resource) {
	if b.err != nil {
		return
	}
	if !isAlnum(id) {
		b.err = fmt.Errorf("logical id %q is not alphanumeric", id)
		return
	}
	if _, dup := b.t.Resources[id]; dup {
		b.err = fmt.Errorf("two resources would share the logical id %q", id)
		return
	}
	if r.Properties == nil {
		r.Properties = map[string]any{}
	}
	b.t.Resources[id] = r
}

// fail records the first error; later steps become no-ops.
func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *builder) addOutput(id string, o output) {
	if b.err != nil {
		return
	}
	if !isAlnum(id) {
		b.err = fmt.Errorf("output name %q is not alphanumeric", id)
		return
	}
	if _, dup := b.t.Outputs[id]; dup {
		b.err = fmt.Errorf("two outputs would share the name %q", id)
		return
	}
	b.t.Outputs[id] = o
}

func (b *builder) addParameter(id string, p parameter) {
	if b.t.Parameters == nil {
		b.t.Parameters = map[string]parameter{}
	}
	b.t.Parameters[id] = p
}

func render(c *spec.Cluster) (*Stack, error) {
	if c == nil {
		return nil, errors.New("render: no cluster")
	}
	if c.Name == "" {
		return nil, errors.New("render: cluster has no name")
	}
	if len(c.Compute) == 0 && c.Scheduler != schedulerBatch {
		return nil, fmt.Errorf("render %s: a %s cluster has no compute queue", c.Name, c.Scheduler)
	}
	b := &builder{
		c:         c,
		stackName: StackName(c.Name),
		t: template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              fmt.Sprintf("Driftless cluster %s (%s scheduler)", c.Name, c.Scheduler),
			Resources:                map[string]resource{},
			Outputs:                  map[string]output{},
		},
	}
	b.metadata()
	b.securityGroups()
	b.iam()
	b.storage()
	b.headNode()
	groups := b.compute()
	b.batch()
	b.outputs()
	if b.err != nil {
		return nil, fmt.Errorf("render %s: %w", c.Name, b.err)
	}
	body, err := encode(b.t)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", c.Name, err)
	}
	sum := sha256.Sum256(body)
	return &Stack{
		Cluster:  c.Name,
		Name:     b.stackName,
		Template: body,
		Hash:     hex.EncodeToString(sum[:]),
		Tags:     stackTags(c),
		Groups:   groups,
		Images:   imageParameters(b.images),

		TerminationProtection: c.Policy.TerminationProtection,
	}, nil
}

// imageParameters lists the image parameters declared, sorted by name.
func imageParameters(m map[string]string) []ImageParameter {
	var out []ImageParameter
	for _, name := range slices.Sorted(maps.Keys(m)) {
		out = append(out, ImageParameter{Name: name, Path: m[name]})
	}
	return out
}

// metadata records the spec the template was rendered from, so a later diff
// can explain a change in the user's own terms rather than in resource
// properties. The spec is stored as JSON text, not as an object: template
// Metadata may not hold fractional numbers (cfn-lint E4002), and a spot
// price is one. SpecFromTemplate reads it back.
func (b *builder) metadata() {
	text, err := json.Marshal(b.c)
	if err != nil {
		b.fail(fmt.Errorf("spec to JSON: %w", err))
		return
	}
	b.t.Metadata = map[string]any{
		"Driftless": map[string]any{
			"SpecVersion": b.c.Version,
			"Spec":        string(text),
		},
	}
}

// SpecFromTemplate reads back the spec a template was rendered from, as
// recorded in its Metadata. File is not recorded and stays empty.
func SpecFromTemplate(body []byte) (*spec.Cluster, error) {
	var doc struct {
		Metadata struct {
			Driftless *struct {
				Spec *string
			}
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if doc.Metadata.Driftless == nil || doc.Metadata.Driftless.Spec == nil {
		return nil, errors.New("template has no Driftless spec in its Metadata")
	}
	var c spec.Cluster
	if err := json.Unmarshal([]byte(*doc.Metadata.Driftless.Spec), &c); err != nil {
		return nil, fmt.Errorf("spec in the template Metadata: %w", err)
	}
	return &c, nil
}

// encode renders v as canonical JSON: objects with sorted keys, two-space
// indent, no HTML escaping (the SSM parameter type contains < and >), and a
// trailing newline. Going through a generic value first makes the key order
// independent of struct field order.
func encode(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonical(raw)
}

// Canonical re-encodes a JSON document with sorted object keys, two-space
// indent and no HTML escaping, so two documents that mean the same compare
// equal byte for byte. Numbers are kept as written.
func Canonical(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if dec.More() {
		return nil, errors.New("canonical json: trailing data after the document")
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return out.Bytes(), nil
}

// Intrinsic functions.

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []string{id, attr}}
}

// tagList turns a tag map into CloudFormation's list form, sorted by key.
// When propagate is set every tag carries PropagateAtLaunch, as Auto
// Scaling groups require.
func tagList(tags map[string]string, propagate bool) []map[string]any {
	out := make([]map[string]any, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		t := map[string]any{"Key": k, "Value": tags[k]}
		if propagate {
			t["PropagateAtLaunch"] = true
		}
		out = append(out, t)
	}
	return out
}

// stackTags are the user's tags plus ours; ours win on a clash.
func stackTags(c *spec.Cluster) map[string]string {
	tags := make(map[string]string, len(c.Tags)+1)
	maps.Copy(tags, c.Tags)
	tags[TagCluster] = c.Name
	return tags
}

// resourceTags are the tags every resource of the cluster carries, with
// the given Name and any extra tags.
func (b *builder) resourceTags(name string, extra map[string]string) map[string]string {
	tags := stackTags(b.c)
	maps.Copy(tags, extra)
	tags["Name"] = name
	return tags
}
