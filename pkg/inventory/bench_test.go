package inventory

import (
	"fmt"
	"testing"

	"github.com/driftless/driftless/pkg/diff"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

// BenchmarkJoin joins 500 declared and live clusters with two instances
// each: the work `reconciler list` does after its AWS reads, rendering
// every spec included.
func BenchmarkJoin(b *testing.B) {
	files := map[string][]byte{}
	live := &Live{}
	for i := range 500 {
		name := fmt.Sprintf("c%03d", i)
		doc := fmt.Sprintf("version: 1\nname: %s\nregion: us-east-1\nscheduler: slurm\nvpc: vpc-0123456789abcdef0\n"+
			"headNode:\n  instanceType: t3.medium\n  subnet: subnet-0123456789abcdef0\n  sshFrom: 192.0.2.0/24\n"+
			"compute:\n  - name: compute\n    instanceType: c5.large\n    maxNodes: 4\n", name)
		files["clusters/"+name+".yaml"] = []byte(doc)
		live.Stacks = append(live.Stacks, diff.Live{Cluster: name, StackName: render.StackName(name), Status: "CREATE_COMPLETE",
			Outputs: map[string]string{OutputHeadNodePrivateIP: "10.0.0.1"},
			Groups:  []diff.LiveGroup{{Name: render.GroupName(name, "compute"), Max: 4, Desired: 1, InService: 1}}})
		live.Instances = append(live.Instances,
			Instance{ID: "i-h" + name, Cluster: name, Role: RoleHead, PrivateIP: "10.0.0.1", State: "running"},
			Instance{ID: "i-c" + name, Cluster: name, Role: RoleCompute, Queue: "compute", State: "running"})
	}
	set := spec.Load(files)
	b.ResetTimer()
	for b.Loop() {
		inv := Join(Declared{Revision: "r", Set: &set}, live)
		if len(inv.Clusters) != 500 {
			b.Fatal(len(inv.Clusters))
		}
	}
}
