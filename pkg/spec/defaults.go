package spec

import (
	"fmt"
	"reflect"
)

// DefaultQueueName is the name of a cluster's only queue when the spec
// does not name it.
const DefaultQueueName = "compute"

// DefaultMountDir is where the only EBS volume is mounted when the spec
// does not say.
const DefaultMountDir = "/shared"

// loginUsers is the default user of each base OS's images.
var loginUsers = map[string]string{
	"alinux2023": "ec2-user",
	"ubuntu2204": "ubuntu",
	"ubuntu2404": "ubuntu",
	"rocky9":     "rocky",
	"alinux2":    "ec2-user",
	"centos7":    "centos",
	"ubuntu1804": "ubuntu",
	"ubuntu2004": "ubuntu",
}

// setDefaults fills the defaults that depend on other fields; defaults
// that are constants are in the struct tags and already applied.
func setDefaults(c *Cluster, d *decoder) {
	if c.LoginUser == "" {
		c.LoginUser = loginUsers[c.BaseOS]
	}
	for i := range c.Compute {
		q := &c.Compute[i]
		p := fmt.Sprintf("compute[%d]", i)
		if q.Name == "" && len(c.Compute) == 1 && !d.present(p+".name") {
			q.Name = DefaultQueueName
		}
		if q.KeepInitialSize && !d.present(p+".minNodes") && q.InitialNodes != nil {
			q.MinNodes = *q.InitialNodes
		}
		if q.InitialNodes == nil {
			n := q.MinNodes
			q.InitialNodes = &n
		}
		if q.Subnet == "" {
			q.Subnet = c.HeadNode.Subnet
		}
	}
	if c.Scheduler == "awsbatch" && !d.present("scaling") {
		// AWS Batch sizes its own fleet: leave no scaling settings that
		// look as if they applied.
		c.Scaling = Scaling{}
	}
	if c.Scheduler == "awsbatch" && c.Batch == nil {
		c.Batch = &Batch{}
		applyDefaults(reflect.ValueOf(c.Batch).Elem())
	}
	if b := c.Batch; b != nil {
		if len(b.InstanceTypes) == 0 {
			b.InstanceTypes = []string{"optimal"}
		}
		if b.CapacityType == "spot" && b.SpotBidPercentage == 0 {
			b.SpotBidPercentage = 100
		}
		if b.Subnet == "" {
			b.Subnet = c.HeadNode.Subnet
		}
	}
	st := &c.Storage
	if len(st.EBS) == 1 && st.EBS[0].MountDir == "" {
		st.EBS[0].MountDir = DefaultMountDir
	}
	for i := range st.EBS {
		v := &st.EBS[i]
		if v.Volume != "" {
			continue
		}
		if v.Type == "" {
			v.Type = "gp3"
		}
		if v.Size == 0 && v.Snapshot == "" {
			v.Size = 20
		}
		defaultGP3(v.Type, &v.IOPS, &v.Throughput)
	}
	if e := st.EFS; e != nil && e.FileSystem == "" {
		if e.PerformanceMode == "" {
			e.PerformanceMode = "generalPurpose"
		}
		if e.ThroughputMode == "" {
			e.ThroughputMode = "bursting"
		}
	}
	if r := st.RAID; r != nil {
		defaultGP3(r.Type, &r.IOPS, &r.Throughput)
	}
}

// defaultGP3 gives a gp3 volume the baseline that EC2 gives it for free.
func defaultGP3(typ string, iops, throughput *int) {
	if typ != "gp3" {
		return
	}
	if *iops == 0 {
		*iops = 3000
	}
	if *throughput == 0 {
		*throughput = 125
	}
}
