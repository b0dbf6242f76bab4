package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Note is something an import reports: a setting without a Driftless
// equivalent, a default or value that changed on the way, a section no
// cluster uses, or a problem the written spec still has. The importer
// never leaves a setting out without a note.
type Note struct {
	File string
	Line int
	// Section is the section as written, e.g. "cluster default".
	Section string
	// Key is the setting, "" for a note about a whole section.
	Key string
	// Cluster is the imported cluster the note is about, "" when it
	// concerns the file.
	Cluster string
	Msg     string
}

// String renders a note as file:line: [section] key: message.
func (n Note) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: [%s]", n.File, n.Line, n.Section)
	if n.Key != "" {
		b.WriteString(" " + n.Key)
	}
	b.WriteString(": " + n.Msg)
	return b.String()
}

// ImportINI turns a ParallelCluster 2.x or CfnCluster 1.x config into one
// cluster per [cluster NAME] section, following the *_settings references
// and writing out the defaults those tools applied. Every setting that has
// no equivalent, or whose value changed, is reported as a Note with its
// line, and so is any problem the spec still has (the clusters are checked
// by writing them with Marshal and parsing the result).
//
// The clusters hold what the config said, without Driftless's own
// defaults: write them with Marshal, and Parse the files for the rest.
// The error is for a file that cannot be read as such a config at all.
func ImportINI(file string, data []byte) (clusters []*Cluster, notes []Note, err error) {
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("%s: file is %d bytes; a config may hold at most %d", file, len(data), MaxFileSize)
	}
	if line, col, ok := firstInvalidUTF8(data); !ok {
		return nil, nil, fmt.Errorf("%s:%d:%d: file is not UTF-8 text", file, line, col)
	}
	f, err := parseINI(strings.TrimPrefix(string(data), "\ufeff"))
	if err != nil {
		return nil, nil, fmt.Errorf("%s:%w", file, err)
	}
	im := &importer{file: file, ini: f, aws: f.section("aws", "")}
	for _, s := range f.sections {
		if s.kind == "cluster" {
			s.used = true
			clusters = append(clusters, im.importCluster(s))
		}
	}
	if len(clusters) == 0 {
		return nil, nil, fmt.Errorf("%s: no [cluster NAME] section: this is not a ParallelCluster 2.x or CfnCluster config", file)
	}
	im.leftovers()
	for i, s := range clusterSections(f) {
		im.check(clusters[i], s)
	}
	slices.SortStableFunc(im.notes, func(a, b Note) int { return a.Line - b.Line })
	return clusters, im.notes, nil
}

// clusterSections are the [cluster] sections in file order.
func clusterSections(f *iniFile) []*iniSection {
	var out []*iniSection
	for _, s := range f.sections {
		if s.kind == "cluster" {
			out = append(out, s)
		}
	}
	return out
}

// importer carries one import: the config and the notes so far.
type importer struct {
	file  string
	ini   *iniFile
	aws   *iniSection
	notes []Note
	// current is the name of the cluster being imported, for notes.
	current string
}

// note records a note about key k of section s (k may be nil).
func (im *importer) note(s *iniSection, k *iniKey, format string, args ...any) {
	n := Note{File: im.file, Line: s.line, Section: s.title(), Cluster: im.current, Msg: fmt.Sprintf(format, args...)}
	if k != nil {
		n.Line, n.Key = k.line, k.name
	}
	for _, prev := range im.notes {
		if prev.Line == n.Line && prev.Key == n.Key && prev.Msg == n.Msg {
			return // a section shared by two clusters says it once
		}
	}
	im.notes = append(im.notes, n)
}

// str returns a key's value; NONE, ParallelCluster's word for "not set",
// counts as absent.
func (im *importer) str(s *iniSection, key string) (string, *iniKey) {
	k := s.get(key)
	if k == nil || strings.EqualFold(k.value, "NONE") || k.value == "" {
		return "", k
	}
	return k.value, k
}

// boolean reads a key as ConfigParser's getboolean would.
func (im *importer) boolean(s *iniSection, key string, def bool) bool {
	v, k := im.str(s, key)
	switch strings.ToLower(v) {
	case "":
		return def
	case "1", "yes", "true", "on":
		return true
	case "0", "no", "false", "off":
		return false
	}
	im.note(s, k, "`%s` is not true or false; using %t", v, def)
	return def
}

// integer reads a whole number.
func (im *importer) integer(s *iniSection, key string, def int) int {
	v, k := im.str(s, key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		im.note(s, k, "`%s` is not a whole number; using %d", v, def)
		return def
	}
	return n
}

// float reads a number.
func (im *importer) float(s *iniSection, key string) float64 {
	v, k := im.str(s, key)
	if v == "" {
		return 0
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		im.note(s, k, "`%s` is not a number; left out", v)
		return 0
	}
	return x
}

// list reads a comma-separated list.
func (im *importer) list(s *iniSection, key string) []string {
	v, _ := im.str(s, key)
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" && !strings.EqualFold(item, "NONE") {
			out = append(out, item)
		}
	}
	return out
}

// refs follows a *_settings key to the sections it names.
func (im *importer) refs(s *iniSection, key, kind string) []*iniSection {
	_, k := im.str(s, key)
	var out []*iniSection
	for _, label := range im.list(s, key) {
		target := im.ini.section(kind, label)
		if target == nil {
			im.note(s, k, "refers to [%s %s], which is not in the file", kind, label)
			continue
		}
		target.used = true
		out = append(out, target)
	}
	return out
}

// ref follows a *_settings key that names one section.
func (im *importer) ref(s *iniSection, key, kind string) *iniSection {
	rs := im.refs(s, key, kind)
	if len(rs) > 1 {
		_, k := im.str(s, key)
		im.note(s, k, "names %d sections; only the first, [%s], is imported", len(rs), rs[0].title())
	}
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

// invalidNameChars are what a cluster or queue name cannot hold.
var invalidNameChars = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// cluster imports one [cluster NAME] section.
func (im *importer) importCluster(s *iniSection) *Cluster {
	name := invalidNameChars.ReplaceAllString(s.label, "-")
	if name == "" || !(name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z') {
		name = "cluster-" + name
	}
	name = strings.TrimRight(name[:min(len(name), 100)], "-")
	im.current = name
	if name != s.label {
		im.note(s, nil, "the cluster is named `%s`: a Driftless cluster name holds only letters, digits and hyphens and starts with a letter", name)
	}
	c := &Cluster{Version: CurrentVersion, Name: name}

	c.Region, _ = im.str(im.aws, "aws_region_name")
	if c.Region == "" {
		c.Region = "us-east-1"
		at := im.aws
		if at == nil {
			at = s
		}
		im.note(at, nil, "aws_region_name is not set; the spec says us-east-1, ParallelCluster's default (it also read AWS_DEFAULT_REGION, which a spec cannot)")
	}

	sched, k := im.str(s, "scheduler")
	switch sched {
	case "":
		sched = "sge"
	case "openlava":
		im.note(s, k, "openlava is not offered; the spec says slurm")
		sched = "slurm"
	}
	c.Scheduler = sched
	batch := sched == "awsbatch"

	c.BaseOS = im.baseOS(s)
	c.HeadNode.KeyPair, _ = im.str(s, "key_name")
	c.HeadNode.InstanceType, _ = im.str(s, "master_instance_type")
	if c.HeadNode.InstanceType == "" {
		c.HeadNode.InstanceType = "t2.micro"
	}
	c.HeadNode.RootVolumeSize = im.integer(s, "master_root_volume_size", 0)
	c.HeadNode.AMI, _ = im.str(s, "custom_ami")
	c.HeadNode.DisableHyperthreading = im.boolean(s, "disable_hyperthreading", false)
	c.Proxy, _ = im.str(s, "proxy_server")
	c.Tags = im.tags(s)
	im.iam(s, c)
	c.Bootstrap.PreInstall = im.script(s, "pre_install")
	c.Bootstrap.PostInstall = im.script(s, "post_install")

	vpc := im.ref(s, "vpc_settings", "vpc")
	if _, k := im.str(s, "vpc_settings"); k == nil {
		im.note(s, nil, "has no vpc_settings; the spec needs vpc, headNode.subnet and headNode.sshFrom")
	}
	computeSubnet := im.vpc(vpc, c)

	if batch {
		im.batch(s, c, computeSubnet)
	} else {
		im.queues(s, c, vpc, computeSubnet)
		c.Scaling = Scaling{IdleTime: Duration{10 * time.Minute}, ScaleUp: true}
		if sc := im.ref(s, "scaling_settings", "scaling"); sc != nil {
			minutes := im.integer(sc, "scaledown_idletime", 10)
			c.Scaling.IdleTime = Duration{time.Duration(minutes) * time.Minute}
		}
	}
	if batch {
		im.notFor(s, "not used with awsbatch: AWS Batch sizes its own compute environment",
			"initial_queue_size", "max_queue_size", "maintain_initial_size", "spot_price", "placement_group",
			"compute_root_volume_size", "enable_efa", "scaling_settings", "queue_settings")
	}
	im.storage(s, c)
	im.current = ""
	return c
}

// notFor notes the keys of s that are set but do not apply.
func (im *importer) notFor(s *iniSection, why string, keys ...string) {
	for _, key := range keys {
		if v, k := im.str(s, key); v != "" {
			im.note(s, k, "%s", why)
		}
	}
}

// baseOS maps the base OS, moving retired ones to their successors.
func (im *importer) baseOS(s *iniSection) string {
	v, k := im.str(s, "base_os")
	switch v {
	case "":
		im.note(s, nil, "base_os is not set; the spec says alinux2 (ParallelCluster's older default, alinux, has reached its end of life)")
		return "alinux2"
	case "alinux2", "centos7", "ubuntu1804", "ubuntu2004":
		return v
	}
	next := map[string]string{"alinux": "alinux2", "centos6": "centos7", "ubuntu1404": "ubuntu1804", "ubuntu1604": "ubuntu1804"}[v]
	if next == "" {
		im.note(s, k, "`%s` is not a base OS Driftless offers; the spec says alinux2", v)
		return "alinux2"
	}
	im.note(s, k, "%s is no longer offered; the spec says %s", v, next)
	return next
}

// tags reads the JSON object of tags.
func (im *importer) tags(s *iniSection) map[string]string {
	v, k := im.str(s, "tags")
	if v == "" {
		return nil
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		im.note(s, k, "is not a JSON object of tags (%v); left out", err)
		return nil
	}
	out := make(map[string]string, len(raw))
	for key, val := range raw {
		switch val := val.(type) {
		case string:
			out[key] = val
		case nil:
			out[key] = ""
		default:
			b, _ := json.Marshal(val)
			out[key] = string(b)
		}
	}
	return out
}

// iam maps the role, the policies and the S3 resources.
func (im *importer) iam(s *iniSection, c *Cluster) {
	c.IAM.Role, _ = im.str(s, "ec2_iam_role")
	policies := im.list(s, "additional_iam_policies")
	read, _ := im.str(s, "s3_read_resource")
	write, _ := im.str(s, "s3_read_write_resource")
	if c.IAM.Role != "" {
		im.notFor(s, "not imported: with ec2_iam_role the permissions belong on that role; attach them to it",
			"additional_iam_policies", "s3_read_resource", "s3_read_write_resource")
		return
	}
	c.IAM.Policies = policies
	if read != "" {
		c.IAM.S3Read = []string{read}
	}
	if write != "" {
		c.IAM.S3ReadWrite = []string{write}
	}
}

// script maps pre_install or post_install and its _args.
func (im *importer) script(s *iniSection, key string) *Script {
	url, _ := im.str(s, key)
	args, k := im.str(s, key+"_args")
	if url == "" {
		if args != "" {
			im.note(s, k, "has no %s to pass them to; left out", key)
		}
		return nil
	}
	sc := &Script{URL: url}
	if args != "" {
		var err error
		if sc.Args, err = shellSplit(args); err != nil {
			im.note(s, k, "%v; passed as one argument", err)
			sc.Args = []string{args}
		}
	}
	return sc
}

// vpc maps a [vpc] section and returns the compute subnet it names.
func (im *importer) vpc(v *iniSection, c *Cluster) string {
	if v == nil {
		return ""
	}
	c.VPC, _ = im.str(v, "vpc_id")
	c.HeadNode.Subnet, _ = im.str(v, "master_subnet_id")
	computeSubnet, _ := im.str(v, "compute_subnet_id")
	c.HeadNode.PublicIP = im.boolean(v, "use_public_ips", true)
	if k := v.get("use_public_ips"); k != nil && !c.HeadNode.PublicIP {
		im.note(v, k, "false: the head node gets no public IP (ParallelCluster left that to the subnet's auto-assign setting)")
	}
	c.HeadNode.AdditionalSecurityGroups = im.list(v, "additional_sg")
	c.HeadNode.SecurityGroup, _ = im.str(v, "vpc_security_group_id")
	from, k := im.str(v, "ssh_from")
	switch {
	case c.HeadNode.SecurityGroup != "":
		if from != "" {
			im.note(v, k, "left out: with vpc_security_group_id the existing group decides who may connect")
		}
	case from == "":
		c.HeadNode.SSHFrom = "0.0.0.0/0"
		im.note(v, nil, "ssh_from is not set: ParallelCluster opened SSH to the whole internet, and the spec says so (sshFrom: 0.0.0.0/0); narrow it")
	default:
		c.HeadNode.SSHFrom = from
	}
	return computeSubnet
}

// batch maps the AWS Batch settings of an awsbatch cluster.
func (im *importer) batch(s *iniSection, c *Cluster, subnet string) {
	b := &Batch{
		MinVCPUs:      im.integer(s, "min_vcpus", 0),
		DesiredVCPUs:  im.integer(s, "desired_vcpus", 4),
		MaxVCPUs:      im.integer(s, "max_vcpus", 20),
		InstanceTypes: im.list(s, "compute_instance_type"),
		CapacityType:  im.capacityType(s, "cluster_type"),
		Subnet:        subnet,
	}
	if b.CapacityType == "spot" {
		b.SpotBidPercentage = im.integer(s, "spot_bid_percentage", 0)
	} else {
		im.notFor(s, "only used with cluster_type = spot; left out", "spot_bid_percentage")
	}
	im.notFor(s, "not used with awsbatch", "disable_hyperthreading")
	c.HeadNode.DisableHyperthreading = false
	c.Batch = b
}

// capacityType maps ondemand and spot.
func (im *importer) capacityType(s *iniSection, key string) string {
	v, k := im.str(s, key)
	switch v {
	case "", "ondemand":
		return "onDemand"
	case "spot":
		return "spot"
	}
	im.note(s, k, "`%s` is neither ondemand nor spot; the spec says onDemand", v)
	return "onDemand"
}

// placementGroup maps DYNAMIC and a group's name.
func (im *importer) placementGroup(s *iniSection) string {
	v, _ := im.str(s, "placement_group")
	if v == "DYNAMIC" {
		return "dynamic"
	}
	return v
}

// queues maps the compute fleet: the cluster's one queue, or the [queue]
// sections of queue_settings.
func (im *importer) queues(s *iniSection, c *Cluster, vpc *iniSection, subnet string) {
	// Nodes in the head node's public subnet need a public IP to reach AWS.
	publicIP := subnet == "" && c.HeadNode.PublicIP && vpc != nil
	extraSG := slices.Clone(c.HeadNode.AdditionalSecurityGroups)
	if c.HeadNode.SecurityGroup != "" {
		extraSG = append(extraSG, c.HeadNode.SecurityGroup)
		im.note(vpc, vpc.get("vpc_security_group_id"), "the head node uses this group instead of its own; the compute nodes get it besides the cluster's group")
	}
	hyper := c.HeadNode.DisableHyperthreading
	if v, k := im.str(s, "placement"); v == "cluster" {
		im.note(s, k, "no Driftless equivalent: %s", legacyParamFor("cluster", "placement").how)
	}
	if qs := im.refs(s, "queue_settings", "queue"); len(qs) > 0 {
		if c.Scheduler != "slurm" {
			_, k := im.str(s, "queue_settings")
			im.note(s, k, "needs the slurm scheduler (ParallelCluster refused it with %s); the queues are imported as they are", c.Scheduler)
		}
		im.notFor(s, "has no effect with queue_settings (ParallelCluster refused it too); set it in the [queue] or [compute_resource] sections",
			"compute_instance_type", "initial_queue_size", "max_queue_size", "maintain_initial_size", "cluster_type", "spot_price",
			"placement_group", "enable_efa", "compute_root_volume_size")
		for _, q := range qs {
			im.queueSection(q, c, subnet, publicIP, extraSG, hyper)
		}
		return
	}
	q := Queue{
		Name:                     DefaultQueueName,
		Subnet:                   subnet,
		PublicIP:                 publicIP,
		AdditionalSecurityGroups: extraSG,
		DisableHyperthreading:    hyper,
		CapacityType:             im.capacityType(s, "cluster_type"),
		PlacementGroup:           im.placementGroup(s),
		RootVolumeSize:           im.integer(s, "compute_root_volume_size", 0),
		MaxNodes:                 im.integer(s, "max_queue_size", 10),
	}
	q.InstanceType, _ = im.str(s, "compute_instance_type")
	if q.InstanceType == "" {
		q.InstanceType = "t2.micro"
	}
	initial := im.integer(s, "initial_queue_size", 2)
	q.InitialNodes = &initial
	if im.boolean(s, "maintain_initial_size", false) {
		q.KeepInitialSize = true
	}
	if efa, k := im.str(s, "enable_efa"); efa != "" {
		if efa == "compute" {
			q.EFA = true
		} else {
			im.note(s, k, "`%s` is not `compute`; EFA is left off", efa)
		}
	}
	im.spotPrice(s, &q)
	c.Compute = []Queue{q}
}

// spotPrice maps a spot price, which only spot queues use.
func (im *importer) spotPrice(s *iniSection, q *Queue) {
	price := im.float(s, "spot_price")
	if price == 0 {
		return
	}
	if q.CapacityType != "spot" {
		_, k := im.str(s, "spot_price")
		im.note(s, k, "only used with spot instances; left out")
		return
	}
	q.SpotPrice = price
}

// queueSection maps one [queue] section: a Driftless queue per compute
// resource.
func (im *importer) queueSection(qs *iniSection, c *Cluster, subnet string, publicIP bool, extraSG []string, hyper bool) {
	base := Queue{
		Subnet:                   subnet,
		PublicIP:                 publicIP,
		AdditionalSecurityGroups: extraSG,
		DisableHyperthreading:    im.boolean(qs, "disable_hyperthreading", hyper),
		EFA:                      im.boolean(qs, "enable_efa", false),
		CapacityType:             im.capacityType(qs, "compute_type"),
		PlacementGroup:           im.placementGroup(qs),
	}
	crs := im.refs(qs, "compute_resource_settings", "compute_resource")
	if len(crs) == 0 {
		im.note(qs, nil, "has no compute resources; no queue is made from it")
	}
	for _, cr := range crs {
		q := base
		q.Name = qs.label
		if len(crs) > 1 {
			q.Name = qs.label + "-" + cr.label
			im.note(cr, nil, "becomes queue `%s`: a Driftless queue has one instance type", strings.ToLower(invalidNameChars.ReplaceAllString(q.Name, "-")))
		}
		q.Name = strings.ToLower(invalidNameChars.ReplaceAllString(q.Name, "-"))
		q.InstanceType, _ = im.str(cr, "instance_type")
		q.MinNodes = im.integer(cr, "min_count", 0)
		q.MaxNodes = im.integer(cr, "max_count", 10)
		initial := im.integer(cr, "initial_count", q.MinNodes)
		q.InitialNodes = &initial
		im.spotPrice(cr, &q)
		c.Compute = append(c.Compute, q)
	}
}

// leftovers notes every key no cluster used and every section no cluster
// refers to.
func (im *importer) leftovers() {
	known := map[string]bool{"aws": true, "global": true, "aliases": true, "cluster": true, "vpc": true, "ebs": true,
		"efs": true, "raid": true, "scaling": true, "fsx": true, "dcv": true, "cw_log": true, "dashboard": true,
		"queue": true, "compute_resource": true}
	for _, s := range im.ini.sections {
		switch {
		case !known[s.kind]:
			im.note(s, nil, "is not a ParallelCluster 2.x or CfnCluster section; not imported")
			continue
		case s.kind == "fsx" || s.kind == "dcv" || s.kind == "cw_log" || s.kind == "dashboard":
			// Nothing maps them: each key gets the table's reason below.
		case !s.used && s.kind != "aws" && s.kind != "global" && s.kind != "aliases":
			im.note(s, nil, "no cluster refers to this section; not imported")
			continue
		}
		for _, k := range s.keys {
			if k.used {
				continue
			}
			if p := legacyParamFor(s.kind, k.name); p != nil && p.field == "" {
				im.note(s, k, "no Driftless equivalent: %s", p.how)
				continue
			}
			if p := legacyParamFor(s.kind, k.name); p != nil {
				im.note(s, k, "not imported in this context (%s)", p.field)
				continue
			}
			im.note(s, k, "is not a ParallelCluster 2.x or CfnCluster setting of [%s]; not imported", s.kind)
		}
	}
}

// check writes the cluster as a spec and parses it, and notes each
// problem the spec still has.
func (im *importer) check(c *Cluster, s *iniSection) {
	im.current = c.Name
	defer func() { im.current = "" }()
	out, err := Marshal(c)
	if err != nil {
		im.note(s, nil, "the spec cannot be written: %v", err)
		return
	}
	_, errs := Parse(c.Name+".yaml", out)
	for _, e := range errs {
		field := e.Field
		if field == "" {
			field = "spec"
		}
		im.note(s, nil, "the imported spec is not valid yet: %s: %s", field, e.Msg)
	}
}

// shellSplit splits a line into words as a POSIX shell would, without
// expansions: quotes group, a backslash escapes outside single quotes.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated ' in the arguments")
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
			continue
		case r == '"':
			i++
			for {
				if i >= len(s) {
					return nil, errors.New("unterminated \" in the arguments")
				}
				if s[i] == '"' {
					i++
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
				i++
			}
			inWord = true
			continue
		case r == '\\':
			if i+1 < len(s) {
				_, n := utf8.DecodeRuneInString(s[i+1:])
				cur.WriteString(s[i+1 : i+1+n])
				i += 1 + n
				inWord = true
				continue
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
		i += size
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
