package scale

import "strings"

// MapNodes pairs scheduler nodes with the instances of the groups and
// returns each group's nodes, with InstanceID set, and the nodes that
// belong to no group (static nodes, nodes of other fleets, nodes whose
// instance is already gone). A node belongs to an instance when:
//
//   - the adapter reported the instance id for it (a Slurm node whose
//     Comment is the instance id), or
//   - its name, hostname or address equals the instance id, the private
//     DNS name, the private DNS name's first label (ip-10-0-1-23, the name
//     an Amazon Linux or Ubuntu instance gives itself), or the private IP.
//
// The first match wins; an instance is claimed by at most one node, so a
// stale node that shares an address with a new instance is not mapped
// twice.
func MapNodes(nodes []Node, groups []Group) (byGroup map[string][]Node, unmapped []Node) {
	type owner struct {
		group string
		id    string
	}
	keys := map[string]owner{}
	for _, g := range groups {
		for _, in := range g.Instances {
			o := owner{g.Name, in.ID}
			for _, k := range []string{in.ID, in.PrivateDNSName, shortName(in.PrivateDNSName), in.PrivateIP} {
				if k != "" {
					keys[k] = o
				}
			}
		}
	}
	byGroup = map[string][]Node{}
	claimed := map[string]bool{}
	for _, n := range nodes {
		var o owner
		found := false
		for _, k := range []string{n.InstanceID, n.Name, n.Hostname, n.Address} {
			if k == "" {
				continue
			}
			if c, ok := keys[k]; ok && !claimed[c.id] {
				o, found = c, true
				break
			}
		}
		if !found {
			unmapped = append(unmapped, n)
			continue
		}
		claimed[o.id] = true
		n.InstanceID = o.id
		byGroup[o.group] = append(byGroup[o.group], n)
	}
	return byGroup, unmapped
}

func shortName(dns string) string {
	if i := strings.IndexByte(dns, '.'); i > 0 {
		return dns[:i]
	}
	return ""
}
