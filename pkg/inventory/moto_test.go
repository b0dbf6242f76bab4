package inventory_test

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/driftless/driftless/internal/testbed/images"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/inventory"
	"github.com/driftless/driftless/pkg/render"
	"github.com/driftless/driftless/pkg/spec"
)

var emulator moto.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.Close()
	os.Exit(code)
}

// counter counts the AWS calls of a reader by operation.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) record(call awsclient.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[call.Operation]++
}

func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func specYAML(net moto.Network, name, scheduler string, minNodes int) string {
	if scheduler == "awsbatch" {
		return fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: awsbatch
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
batch:
  maxVCPUs: 8
  desiredVCPUs: 0
  instanceTypes: [c5.large]
`, name, net.VPC, net.Subnet)
	}
	return fmt.Sprintf(`version: 1
name: %s
region: us-east-1
scheduler: %s
vpc: %s
headNode:
  instanceType: t3.medium
  subnet: %s
  sshFrom: 192.0.2.0/24
compute:
  - name: compute
    instanceType: c5.large
    minNodes: %d
    maxNodes: 4
`, name, scheduler, net.VPC, net.Subnet, minNodes)
}

// create renders a spec and creates its stack with the tags apply would
// set, so the inventory sees it as in sync with revision rev.
func create(t *testing.T, cfn *cloudformation.Client, c *spec.Cluster, rev string) {
	t.Helper()
	st, err := render.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{render.TagRevision: rev, render.TagSpecHash: st.Hash}
	maps.Copy(tags, st.Tags)
	var list []cfntypes.Tag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		list = append(list, cfntypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := cfn.CreateStack(t.Context(), &cloudformation.CreateStackInput{
		StackName:    aws.String(st.Name),
		TemplateBody: aws.String(string(st.Template)),
		Parameters:   images.Parameters(t, cfn, st),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam},
		Tags:         list,
	}); err != nil {
		t.Fatalf("create %s: %v", st.Name, err)
	}
}

// TestStatusCallsBounded reads 5 and then 50 live clusters and counts the
// AWS calls: the same few paginated operations, and the count grows by at
// most the extra pages, never with the number of clusters.
func TestStatusCallsBounded(t *testing.T) {
	srv := emulator.Get(t)
	srv.Reset(t)
	ctx := t.Context()
	count := &counter{n: map[string]int{}}
	rec := &awsclient.Recorder{OnCall: count.record}
	cfg := awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}
	clients, err := awsclient.New(ctx, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	awsCfg, err := awsclient.Load(ctx, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	reader := &inventory.Reader{CFN: clients.CFN, ASG: clients.ASG, EC2: clients.EC2, Batch: awsbatch.NewFromConfig(awsCfg)}
	net := moto.NewNetwork(t, ctx, clients.EC2)

	files := map[string][]byte{}
	var sizes []int
	var counts []map[string]int
	for _, n := range []int{5, 50} {
		for i := len(files); i < n; i++ {
			name := fmt.Sprintf("c%02d", i)
			scheduler := []string{"slurm", "sge", "torque"}[i%3]
			if i == 1 || i == 30 {
				scheduler = "awsbatch"
			}
			data := []byte(specYAML(net, name, scheduler, i%2))
			c, errs := spec.Parse("clusters/"+name+".yaml", data)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			create(t, clients.CFN, c, "rev1")
			files["clusters/"+name+".yaml"] = data
		}
		set := spec.Load(files)
		count.take()
		live, err := reader.Read(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		calls := count.take()
		inv := inventory.Join(inventory.Declared{Revision: "rev1", Set: &set}, live)
		if len(inv.Clusters) != n {
			t.Fatalf("%d clusters in the inventory, want %d", len(inv.Clusters), n)
		}
		for _, c := range inv.Clusters {
			if c.Sync != inventory.Synced || c.HeadNode == nil || c.HeadNode.PrivateIP == "" || c.LoginUser != "ec2-user" {
				t.Errorf("%s: sync %s head %+v login %q", c.Name, c.Sync, c.HeadNode, c.LoginUser)
			}
		}
		sizes, counts = append(sizes, n), append(counts, calls)
		t.Logf("%d clusters: %v", n, calls)
	}
	allowed := []string{"DescribeStacks", "DescribeAutoScalingGroups", "DescribeInstances", "DescribeComputeEnvironments"}
	for i, calls := range counts {
		total := 0
		for op, k := range calls {
			total += k
			if !slices.Contains(allowed, op) {
				t.Errorf("%d clusters: unexpected call %s ×%d", sizes[i], op, k)
			}
		}
		// One page of each: stacks, groups (50 a page), instances (1000 a
		// page), compute environments; a second page of groups at 50.
		if total > 6 {
			t.Errorf("%d clusters took %d AWS calls: %v", sizes[i], total, calls)
		}
	}
	for _, op := range allowed {
		if grow := counts[1][op] - counts[0][op]; grow > 1 {
			t.Errorf("%s: %d calls for 5 clusters, %d for 50: grows with the clusters", op, counts[0][op], counts[1][op])
		}
	}
}

// TestJoinOnEmulator checks what the inventory says of clusters in every
// state: in sync, changed in the repo, drifted by hand, never created,
// left the repo, and broken.
func TestJoinOnEmulator(t *testing.T) {
	srv := emulator.Get(t)
	ctx := t.Context()
	clients, err := awsclient.New(ctx, awsclient.Config{Region: moto.Region, Endpoint: srv.Endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net := moto.NewNetwork(t, ctx, clients.EC2)
	prefix := moto.UniqueName("j")
	name := func(s string) string { return prefix + "-" + s }
	parse := func(n string, minNodes int) (*spec.Cluster, []byte) {
		data := []byte(specYAML(net, name(n), "slurm", minNodes))
		c, errs := spec.Parse("clusters/"+name(n)+".yaml", data)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return c, data
	}
	synced, syncedData := parse("synced", 1)
	create(t, clients.CFN, synced, "rev1")
	changed, _ := parse("changed", 0)
	create(t, clients.CFN, changed, "rev1")
	_, changedData := parse("changed", 1)
	drifted, driftedData := parse("drifted", 0)
	create(t, clients.CFN, drifted, "rev1")
	if _, err := clients.ASG.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(render.GroupName(name("drifted"), "compute")), MaxSize: aws.Int32(9),
	}); err != nil {
		t.Fatal(err)
	}
	_, newData := parse("new", 0)
	gone, _ := parse("gone", 0)
	create(t, clients.CFN, gone, "rev0")
	broken, _ := parse("broken", 0)
	create(t, clients.CFN, broken, "rev1")
	brokenData := strings.Replace(specYAML(net, name("broken"), "slurm", 0), "maxNodes", "maxNode", 1)

	set := spec.Load(map[string][]byte{
		"clusters/" + name("synced") + ".yaml":  syncedData,
		"clusters/" + name("changed") + ".yaml": changedData,
		"clusters/" + name("drifted") + ".yaml": driftedData,
		"clusters/" + name("new") + ".yaml":     newData,
		"clusters/" + name("broken") + ".yaml":  []byte(brokenData),
	})
	reader := &inventory.Reader{CFN: clients.CFN, ASG: clients.ASG, EC2: clients.EC2}
	live, err := reader.Read(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.Join(inventory.Declared{Revision: "rev2", Set: &set}, live)

	tests := []struct {
		cluster   string
		sync      inventory.Sync
		condition string
		drift     string
		instances int
	}{
		{"synced", inventory.Synced, "Ready", "", 2},
		{"changed", inventory.OutOfSync, "Reconciling", "", 1},
		{"drifted", inventory.Synced, "Reconciling", "max 9; the spec says min 0 max 4", 1},
		{"new", inventory.NotCreated, "Reconciling", "", 0},
		{"gone", inventory.NotDeclared, "Blocked", "", 1},
		{"broken", inventory.InvalidSpec, "Blocked", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.cluster, func(t *testing.T) {
			c, ok := inv.Find(name(tt.cluster))
			if !ok {
				t.Fatalf("not in the inventory: %v", inv.Names())
			}
			if c.Sync != tt.sync || c.Condition != tt.condition {
				t.Errorf("sync %s condition %s, want %s %s (%s)", c.Sync, c.Condition, tt.sync, tt.condition, c.Message)
			}
			if got := strings.Join(c.Drift, "; "); !strings.Contains(got, tt.drift) || (tt.drift == "" && got != "") {
				t.Errorf("drift %q, want %q", got, tt.drift)
			}
			if len(c.Instances) != tt.instances {
				t.Errorf("%d instances, want %d: %+v", len(c.Instances), tt.instances, c.Instances)
			}
			if tt.instances > 0 && (c.Instances[0].Role != inventory.RoleHead || c.HeadNode == nil || c.HeadNode.PublicIP == "") {
				t.Errorf("head node %+v, instances %+v", c.HeadNode, c.Instances)
			}
			if tt.instances == 2 && (c.Instances[1].Role != inventory.RoleCompute || c.Instances[1].Queue != "compute") {
				t.Errorf("compute node %+v", c.Instances[1])
			}
		})
	}
	if len(inv.Invalid["clusters/"+name("broken")+".yaml"]) == 0 {
		t.Errorf("broken spec not reported: %v", inv.Invalid)
	}
	if c, _ := inv.Find(name("synced")); len(c.Fleet) != 1 || c.Fleet[0].Min != 1 || c.Fleet[0].Max != 4 || c.Fleet[0].Queue != "compute" {
		t.Errorf("fleet %+v", c.Fleet)
	}
}
