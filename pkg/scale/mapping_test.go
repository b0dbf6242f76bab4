package scale

import (
	"testing"
)

func TestMapNodes(t *testing.T) {
	groups := []Group{
		{Name: "compute", Instances: []Instance{
			{ID: "i-0aaa", PrivateDNSName: "ip-10-0-1-5.ec2.internal", PrivateIP: "10.0.1.5"},
			{ID: "i-0bbb", PrivateDNSName: "ip-10-0-1-6.ec2.internal", PrivateIP: "10.0.1.6"},
			{ID: "i-0ccc", PrivateDNSName: "ip-10-0-1-7.ec2.internal", PrivateIP: "10.0.1.7"},
			{ID: "i-0ddd"},
		}},
		{Name: "gpu", Instances: []Instance{{ID: "i-0eee", PrivateDNSName: "ip-10-0-2-9.ec2.internal"}}},
	}
	nodes := []Node{
		{Name: "ip-10-0-1-5"},                    // short DNS name
		{Name: "n2", Address: "10.0.1.6"},        // address
		{Name: "ip-10-0-1-7.ec2.internal"},       // full DNS name
		{Name: "x", InstanceID: "i-0ddd"},        // reported id
		{Name: "i-0eee"},                         // id as name
		{Name: "static1", Address: "10.9.9.9"},   // not ours
		{Name: "stale", Hostname: "ip-10-0-1-5"}, // instance already claimed
	}
	byGroup, unmapped := MapNodes(nodes, groups)
	want := map[string]string{"ip-10-0-1-5": "i-0aaa", "n2": "i-0bbb", "ip-10-0-1-7.ec2.internal": "i-0ccc", "x": "i-0ddd"}
	if len(byGroup["compute"]) != len(want) {
		t.Fatalf("compute = %+v", byGroup["compute"])
	}
	for _, n := range byGroup["compute"] {
		if want[n.Name] != n.InstanceID {
			t.Errorf("%s mapped to %q, want %q", n.Name, n.InstanceID, want[n.Name])
		}
	}
	if g := byGroup["gpu"]; len(g) != 1 || g[0].InstanceID != "i-0eee" {
		t.Errorf("gpu = %+v", g)
	}
	if len(unmapped) != 2 || unmapped[0].Name != "static1" || unmapped[1].Name != "stale" {
		t.Errorf("unmapped = %+v", unmapped)
	}
}
