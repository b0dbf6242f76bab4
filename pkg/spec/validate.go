package spec

import (
	"fmt"
	"sort"
	"strings"
)

// MaxTags is how many tags a spec may set. CloudFormation allows 50 tags on
// a stack and Driftless adds three of its own (driftless:cluster,
// driftless:revision, driftless:spec-hash).
const MaxTags = 50 - 3

// DefaultQueueName is the name of a cluster's only queue when the spec
// does not name it.
const DefaultQueueName = "compute"

// setDefaults fills the defaults that depend on other fields; defaults
// that are constants are in the struct tags and already applied.
func setDefaults(c *Cluster, d *decoder) {
	if c.LoginUser == "" {
		c.LoginUser = "ec2-user"
	}
	for i := range c.Compute {
		q := &c.Compute[i]
		if q.Name == "" && len(c.Compute) == 1 && !d.present(fmt.Sprintf("compute[%d].name", i)) {
			q.Name = DefaultQueueName
		}
		if q.InitialNodes == nil {
			n := q.MinNodes
			q.InitialNodes = &n
		}
		if q.Subnet == "" {
			q.Subnet = c.HeadNode.Subnet
		}
	}
}

// validate checks the rules that span fields. Rules on one value (kinds,
// enums, ranges) were checked while decoding.
func validate(c *Cluster, d *decoder) {
	validateCompute(c, d)
	validateTags(c, d)
}

func validateCompute(c *Cluster, d *decoder) {
	if !d.ok("compute", "scheduler") {
		return
	}
	switch {
	case c.Scheduler == "awsbatch" && len(c.Compute) > 0:
		d.errorf(d.at("compute"), "compute", "an awsbatch cluster has no compute queues: AWS Batch sizes its own compute environment")
	case c.Scheduler != "awsbatch" && c.Scheduler != "" && len(c.Compute) == 0:
		d.errorf(d.at("compute"), "compute", "a %s cluster needs at least one queue", c.Scheduler)
	}
	names := map[string]string{}
	for i, q := range c.Compute {
		p := fmt.Sprintf("compute[%d]", i)
		if !d.ok(p) {
			continue
		}
		if q.Name == "" {
			if d.ok(p + ".name") {
				d.errorf(d.at(p+".name"), p+".name", "is required when there is more than one queue")
			}
		} else if first, dup := names[q.Name]; dup {
			d.errorf(d.at(p+".name"), p+".name", "queue `%s` is already declared in %s; queue names must be unique", q.Name, first)
		} else {
			names[q.Name] = p
		}
		minP, initP, maxP := p+".minNodes", p+".initialNodes", p+".maxNodes"
		minOK, maxOK := d.ok(minP) && d.present(minP), d.ok(maxP)
		if minOK && maxOK && q.MinNodes > q.MaxNodes {
			d.errorf(d.at(minP), minP, "is %d, more than maxNodes (%d)", q.MinNodes, q.MaxNodes)
		}
		if !d.present(initP) || !d.ok(initP) {
			continue
		}
		if d.ok(minP) && *q.InitialNodes < q.MinNodes {
			d.errorf(d.at(initP), initP, "is %d, less than minNodes (%d)", *q.InitialNodes, q.MinNodes)
		}
		if maxOK && *q.InitialNodes > q.MaxNodes {
			d.errorf(d.at(initP), initP, "is %d, more than maxNodes (%d)", *q.InitialNodes, q.MaxNodes)
		}
	}
}

func validateTags(c *Cluster, d *decoder) {
	if len(c.Tags) > MaxTags {
		d.errorf(d.keyAt("tags"), "tags", "has %d tags; at most %d are allowed (CloudFormation allows 50 and Driftless sets 3)", len(c.Tags), MaxTags)
	}
	keys := make([]string, 0, len(c.Tags))
	for k := range c.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := joinPath("tags", k)
		lk := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lk, "aws:"):
			d.errorf(d.keys[p], p, "tag keys starting with `aws:` are reserved by AWS")
		case strings.HasPrefix(lk, "driftless:"):
			d.errorf(d.keys[p], p, "tag keys starting with `driftless:` are reserved: Driftless sets them to recognise its stacks")
		default:
			if msg := checkKind("tagKey", k); msg != "" {
				d.errorf(d.keys[p], p, "%s", msg)
			}
		}
		if msg := checkKind("tagValue", c.Tags[k]); msg != "" {
			d.errorf(d.at(p), p, "%s", msg)
		}
	}
}
