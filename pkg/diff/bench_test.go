package diff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// benchInput is n clusters, each either in sync or with a spec change the
// plan explains field by field.
func benchInput(b *testing.B, n int, changed bool) Input {
	b.Helper()
	var in Input
	for i := range n {
		text := strings.Replace(baseSpec, "name: alpha", fmt.Sprintf("name: c%03d", i), 1)
		old := parsedB(b, text)
		st := renderedB(b, old)
		l := Live{Cluster: st.Cluster, StackName: st.Name, Status: "UPDATE_COMPLETE", Hash: st.Hash, Tags: st.Tags}
		for _, g := range st.Groups {
			l.Groups = append(l.Groups, LiveGroup{Name: g.Name, Min: g.Min, Max: g.Max})
		}
		d := st
		if changed {
			l.Template = st.Template
			d = renderedB(b, parsedB(b, strings.Replace(text, "maxNodes: 8", "maxNodes: 16", 1)))
		}
		in.Desired = append(in.Desired, d)
		in.Live = append(in.Live, l)
	}
	return in
}

func parsedB(b *testing.B, text string) *specCluster {
	b.Helper()
	c, errs := parseSpec(text)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return c
}

func renderedB(b *testing.B, c *specCluster) *render.Stack {
	b.Helper()
	st, err := render.Render(c)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkPlan100InSync is the steady state: 100 clusters whose hashes
// match, drift checks included.
func BenchmarkPlan100InSync(b *testing.B) {
	in := benchInput(b, 100, false)
	b.ResetTimer()
	for b.Loop() {
		Plan(in)
	}
}

// BenchmarkPlan100Explained is 100 clusters whose spec changed: each
// update explained setting by setting and resource by resource.
func BenchmarkPlan100Explained(b *testing.B) {
	in := benchInput(b, 100, true)
	b.ResetTimer()
	for b.Loop() {
		Plan(in)
	}
}

type specCluster = spec.Cluster

func parseSpec(text string) (*spec.Cluster, spec.Errors) {
	return spec.Parse("bench.yaml", []byte(text))
}
