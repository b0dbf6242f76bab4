package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/spec"
)

// configureEC2 is what the wizard asks EC2 to list the account's choices;
// *ec2.Client satisfies it.
type configureEC2 interface {
	DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
	DescribeKeyPairs(ctx context.Context, in *ec2.DescribeKeyPairsInput, opts ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error)
	DescribeVpcs(ctx context.Context, in *ec2.DescribeVpcsInput, opts ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, opts ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
}

var _ configureEC2 = (*ec2.Client)(nil)

// answers are the wizard's questions, each also a flag.
type answers struct {
	name, region, keyPair, vpc, subnet, scheduler string
	headType, computeType, queue, sshFrom         string
	capacity                                      string
	minNodes, maxNodes                            string
	minVCPUs, desiredVCPUs, maxVCPUs, batchTypes  string
}

// runConfigure is `reconciler configure`: it writes a new spec into the
// cluster repo's working copy. It never commits or pushes; the repo stays
// the place where a cluster changes.
func runConfigure(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return configure(ctx, args, os.Stdin, stdout, stderr)
}

func configure(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("configure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a answers
	fs.StringVar(&a.name, "name", "", "cluster name")
	fs.StringVar(&a.region, "region", "", "AWS region")
	fs.StringVar(&a.keyPair, "key-pair", "", "EC2 key pair for the login user (none: no key pair)")
	fs.StringVar(&a.vpc, "vpc", "", "VPC id")
	fs.StringVar(&a.subnet, "subnet", "", "subnet id of the head node (and of the compute nodes)")
	fs.StringVar(&a.scheduler, "scheduler", "", "slurm, sge, torque or awsbatch")
	fs.StringVar(&a.headType, "head-instance-type", "", "head node instance type (default t3.medium)")
	fs.StringVar(&a.computeType, "compute-instance-type", "", "compute node instance type (default c5.large)")
	fs.StringVar(&a.queue, "queue", "", "compute queue name (default compute)")
	fs.StringVar(&a.minNodes, "min-nodes", "", "compute nodes kept running (default 0)")
	fs.StringVar(&a.maxNodes, "max-nodes", "", "most compute nodes (default 10)")
	fs.StringVar(&a.capacity, "capacity-type", "", "onDemand or spot (default onDemand)")
	fs.StringVar(&a.minVCPUs, "min-vcpus", "", "awsbatch: vCPUs kept running (default 0)")
	fs.StringVar(&a.desiredVCPUs, "desired-vcpus", "", "awsbatch: vCPUs started with the cluster (default 4)")
	fs.StringVar(&a.maxVCPUs, "max-vcpus", "", "awsbatch: most vCPUs (default 20)")
	fs.StringVar(&a.batchTypes, "batch-instance-types", "", "awsbatch: comma-separated instance types or families (default optimal)")
	fs.StringVar(&a.sshFrom, "ssh-from", "", "the CIDR allowed to reach the head node over SSH")
	repo := fs.String("repo", ".", "the cluster repo's working copy")
	dir := fs.String("path", "clusters", "the specs' directory inside the repo")
	endpoint := fs.String("endpoint", "", "AWS endpoint URL, e.g. an emulator's")
	profile := fs.String("profile", "", "AWS shared config profile")
	nonInteractive := fs.Bool("non-interactive", false, "never ask: every answer comes from a flag or its default")
	force := fs.Bool("force", false, "overwrite an existing spec file")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("configure takes flags only, got %q", fs.Args())}
	}
	interactive := !*nonInteractive && isTerminal(stdin)
	w := &wizard{
		in: newLineReader(stdin), out: stdout, interactive: interactive, a: &a,
		aws: func(ctx context.Context, region string) (configureEC2, error) {
			cfg, err := awsclient.Load(ctx, awsclient.Config{Region: region, Endpoint: *endpoint, Profile: *profile}, nil)
			if err != nil {
				return nil, err
			}
			return ec2.NewFromConfig(cfg), nil
		},
	}
	c, err := w.run(ctx)
	if err != nil {
		return err
	}
	return writeSpec(c, filepath.Join(*repo, *dir), *force, stdout)
}

// wizard asks the questions that no flag answered, listing at each step
// what the account has.
type wizard struct {
	in          *lineReader
	out         io.Writer
	interactive bool
	a           *answers
	aws         func(ctx context.Context, region string) (configureEC2, error)
	ec2         configureEC2
	missing     []string
	// ctx is the run's: a read from the terminal gives up when it ends
	// (Ctrl-C), which a blocked read alone would not notice.
	ctx context.Context
}

// lineReader reads lines in a goroutine, so a wait for the next answer
// can end with the context.
type lineReader struct {
	lines chan lineRead
	start func()
}

type lineRead struct {
	line string
	err  error
}

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan lineRead)}
	var once sync.Once
	lr.start = func() {
		once.Do(func() {
			go func() {
				br := bufio.NewReader(r)
				for {
					line, err := br.ReadString('\n')
					lr.lines <- lineRead{line, err}
					if err != nil {
						return
					}
				}
			}()
		})
	}
	return lr
}

// read returns the next line, or ctx's error when it ends first.
func (lr *lineReader) read(ctx context.Context) (string, error) {
	lr.start()
	select {
	case l := <-lr.lines:
		return l.line, l.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (w *wizard) run(ctx context.Context) (*spec.Cluster, error) {
	a := w.a
	w.ctx = ctx
	if w.interactive {
		fmt.Fprintln(w.out, "Driftless cluster configuration. Press Enter to take the [default]; type a number to pick from a list.")
	}
	if err := w.ask("name", "Cluster name", "", nil, &a.name); err != nil {
		return nil, err
	}
	regions, err := w.regions(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.ask("region", "AWS region", cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"), regions, &a.region); err != nil {
		return nil, err
	}
	if w.ec2, err = w.aws(ctx, a.region); err != nil {
		return nil, err
	}
	var keys []choice
	keyDefault := "none"
	if w.interactive && a.keyPair == "" {
		if keys, err = w.keyPairs(ctx); err != nil {
			return nil, err
		}
		if len(keys) == 2 { // none and the one key pair there is
			keyDefault = keys[1].value
		}
	}
	if err := w.ask("headNode.keyPair", "EC2 key pair (none: no key pair)", keyDefault, keys, &a.keyPair); err != nil {
		return nil, err
	}
	vpcs, err := w.vpcs(ctx)
	if err != nil {
		return nil, err
	}
	// Without a terminal the network is never guessed: --vpc and --subnet.
	if err := w.ask("vpc", "VPC", w.guess(vpcs), vpcs, &a.vpc); err != nil {
		return nil, err
	}
	subnets, err := w.subnets(ctx, a.vpc)
	if err != nil {
		return nil, err
	}
	if err := w.ask("headNode.subnet", "Subnet of the head node and compute nodes", w.guess(subnets), subnets, &a.subnet); err != nil {
		return nil, err
	}
	schedulers := []choice{{"slurm", "Slurm"}, {"sge", "Son of Grid Engine"}, {"torque", "Torque"}, {"awsbatch", "AWS Batch: no compute queues, a managed compute environment"}}
	if err := w.ask("scheduler", "Scheduler", "slurm", schedulers, &a.scheduler); err != nil {
		return nil, err
	}
	if err := w.ask("headNode.instanceType", "Head node instance type", "t3.medium", nil, &a.headType); err != nil {
		return nil, err
	}
	if a.scheduler == "awsbatch" {
		for _, q := range []struct {
			field, prompt, def string
			v                  *string
		}{
			{"batch.instanceTypes", "Instance types AWS Batch may launch (comma-separated; optimal lets it choose)", "optimal", &a.batchTypes},
			{"batch.minVCPUs", "Minimum vCPUs", "0", &a.minVCPUs},
			{"batch.desiredVCPUs", "Desired vCPUs at start", "4", &a.desiredVCPUs},
			{"batch.maxVCPUs", "Maximum vCPUs", "20", &a.maxVCPUs},
		} {
			if err := w.ask(q.field, q.prompt, q.def, nil, q.v); err != nil {
				return nil, err
			}
		}
	} else {
		for _, q := range []struct {
			field, prompt, def string
			v                  *string
		}{
			{"compute[0].name", "Compute queue name", "compute", &a.queue},
			{"compute[0].instanceType", "Compute node instance type", "c5.large", &a.computeType},
			{"compute[0].minNodes", "Minimum compute nodes", "0", &a.minNodes},
			{"compute[0].maxNodes", "Maximum compute nodes", "10", &a.maxNodes},
		} {
			if err := w.ask(q.field, q.prompt, q.def, nil, q.v); err != nil {
				return nil, err
			}
		}
	}
	if err := w.ask("headNode.sshFrom", "CIDR allowed to reach the head node over SSH (0.0.0.0/0 is the whole internet)", "", nil, &a.sshFrom); err != nil {
		return nil, err
	}
	if len(w.missing) > 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("not on a terminal, and no flag answers: %s", strings.Join(w.missing, ", "))}
	}
	c, errs := a.cluster("new cluster")
	if len(errs) > 0 {
		return nil, fmt.Errorf("the answers do not make a valid spec:\n%s", errs.Error())
	}
	return c, nil
}

// choice is one listed value and what it is.
type choice struct {
	value string
	note  string
}

// guess is the default offered for a listed choice: the region's default
// VPC, or the only choice there is; nothing when not asking.
func (w *wizard) guess(cs []choice) string {
	if !w.interactive {
		return ""
	}
	return defaultChoice(cs)
}

func defaultChoice(cs []choice) string {
	for _, c := range cs {
		if strings.Contains(c.note, "default") {
			return c.value
		}
	}
	if len(cs) == 1 {
		return cs[0].value
	}
	return ""
}

// ask fills *v: from its flag when given (checked like any answer), else
// by asking. field is the spec path the answer ends up in; the answer is
// checked by the spec's own validation and asked again when it fails.
func (w *wizard) ask(field, prompt, def string, choices []choice, v *string) error {
	if *v != "" {
		if msg := w.a.check(field); msg != "" {
			return &exitError{code: 2, err: fmt.Errorf("%s: %s", field, msg)}
		}
		return nil
	}
	if !w.interactive {
		if def == "" {
			w.missing = append(w.missing, flagFor(field))
			return nil
		}
		*v = def
		return nil
	}
	for i, c := range choices {
		fmt.Fprintf(w.out, "  %2d. %s", i+1, c.value)
		if c.note != "" {
			fmt.Fprintf(w.out, "  %s", c.note)
		}
		fmt.Fprintln(w.out)
	}
	for {
		if def != "" {
			fmt.Fprintf(w.out, "%s [%s]: ", prompt, def)
		} else {
			fmt.Fprintf(w.out, "%s: ", prompt)
		}
		line, err := w.in.read(w.ctx)
		switch {
		case w.ctx.Err() != nil:
			fmt.Fprintln(w.out)
			return &exitError{code: 130, err: errors.New("configure interrupted; nothing was written")}
		case errors.Is(err, io.EOF) && line == "":
			return &exitError{code: 2, err: errors.New("configure: input ended before every question was answered")}
		case err != nil && !errors.Is(err, io.EOF):
			return err
		}
		answer := strings.TrimSpace(line)
		if n, err := strconv.Atoi(answer); err == nil && n >= 1 && n <= len(choices) {
			answer = choices[n-1].value
		}
		if answer == "" {
			answer = def
		}
		if answer == "" {
			fmt.Fprintln(w.out, "  an answer is needed")
			continue
		}
		*v = answer
		msg := w.a.check(field)
		if msg == "" {
			return nil
		}
		fmt.Fprintf(w.out, "  %s\n", msg)
		*v = ""
	}
}

func flagFor(field string) string {
	return map[string]string{
		"name": "--name", "region": "--region", "headNode.keyPair": "--key-pair", "vpc": "--vpc",
		"headNode.subnet": "--subnet", "headNode.sshFrom": "--ssh-from",
	}[field]
}

// placeholders stand in for unanswered questions while one answer is
// checked, so only that answer's errors are looked at.
var placeholders = answers{
	name: "placeholder", region: "us-east-1", vpc: "vpc-00000000", subnet: "subnet-00000000",
	scheduler: "slurm", sshFrom: "192.0.2.0/24",
}

// check validates the answers given so far with spec.Parse and returns the
// message of the first error about field.
func (a *answers) check(field string) string {
	probe := *a
	fill := func(v *string, p string) {
		if *v == "" {
			*v = p
		}
	}
	fill(&probe.name, placeholders.name)
	fill(&probe.region, placeholders.region)
	fill(&probe.vpc, placeholders.vpc)
	fill(&probe.subnet, placeholders.subnet)
	fill(&probe.scheduler, placeholders.scheduler)
	fill(&probe.sshFrom, placeholders.sshFrom)
	_, errs := probe.cluster("answer")
	for _, e := range errs {
		if e.Field == field || strings.HasPrefix(e.Field, field+".") || strings.HasPrefix(e.Field, field+"[") || (e.Field == "" && field == "") {
			return e.Msg
		}
	}
	return ""
}

// cluster builds the spec from the answers and validates it.
func (a *answers) cluster(file string) (*spec.Cluster, spec.Errors) {
	atoi := func(field, s string, def int) (int, *spec.Error) {
		if s == "" {
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, &spec.Error{File: file, Field: field, Msg: fmt.Sprintf("want a whole number, got %q", s)}
		}
		return n, nil
	}
	var errs spec.Errors
	num := func(field, s string, def int) int {
		n, e := atoi(field, s, def)
		if e != nil {
			errs = append(errs, *e)
		}
		return n
	}
	c := &spec.Cluster{
		Version: spec.CurrentVersion, Name: a.name, Region: a.region, Scheduler: a.scheduler, VPC: a.vpc,
		HeadNode: spec.HeadNode{InstanceType: cmp.Or(a.headType, "t3.medium"), Subnet: a.subnet, SSHFrom: a.sshFrom, PublicIP: true},
	}
	if a.keyPair != "none" {
		c.HeadNode.KeyPair = a.keyPair
	}
	if a.scheduler == "awsbatch" {
		b := &spec.Batch{
			MinVCPUs:     num("batch.minVCPUs", a.minVCPUs, 0),
			DesiredVCPUs: num("batch.desiredVCPUs", a.desiredVCPUs, 4),
			MaxVCPUs:     num("batch.maxVCPUs", a.maxVCPUs, 20),
			CapacityType: a.capacity,
		}
		for _, t := range strings.Split(cmp.Or(a.batchTypes, "optimal"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				b.InstanceTypes = append(b.InstanceTypes, t)
			}
		}
		c.Batch = b
	} else {
		init := num("compute[0].minNodes", a.minNodes, 0)
		c.Compute = []spec.Queue{{
			Name:         cmp.Or(a.queue, "compute"),
			InstanceType: cmp.Or(a.computeType, "c5.large"),
			MinNodes:     init,
			InitialNodes: &init,
			MaxNodes:     num("compute[0].maxNodes", a.maxNodes, 10),
			CapacityType: a.capacity,
		}}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	data, err := spec.Marshal(c)
	if err != nil {
		return nil, spec.Errors{{File: file, Msg: err.Error()}}
	}
	return spec.Parse(file, data)
}

func (w *wizard) regions(ctx context.Context) ([]choice, error) {
	if !w.interactive || w.a.region != "" {
		return nil, nil
	}
	// Regions are listed from any region's endpoint; the choice is the
	// user's, so an unreachable account shows no list rather than failing.
	client, err := w.aws(ctx, cmp.Or(w.a.region, os.Getenv("AWS_REGION"), "us-east-1"))
	if err != nil {
		return nil, err
	}
	out, err := client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, fmt.Errorf("list regions: %w", err)
	}
	var cs []choice
	for _, r := range out.Regions {
		cs = append(cs, choice{value: aws.ToString(r.RegionName)})
	}
	slices.SortFunc(cs, func(a, b choice) int { return strings.Compare(a.value, b.value) })
	return cs, nil
}

func (w *wizard) keyPairs(ctx context.Context) ([]choice, error) {
	out, err := w.ec2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	if err != nil {
		return nil, fmt.Errorf("list key pairs: %w", err)
	}
	cs := []choice{{value: "none", note: "no key pair: log in through SSM or your own keys"}}
	for _, k := range out.KeyPairs {
		cs = append(cs, choice{value: aws.ToString(k.KeyName), note: string(k.KeyType)})
	}
	return cs, nil
}

func (w *wizard) vpcs(ctx context.Context) ([]choice, error) {
	if !w.interactive || w.a.vpc != "" {
		return nil, nil
	}
	var cs []choice
	p := ec2.NewDescribeVpcsPaginator(w.ec2, &ec2.DescribeVpcsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list VPCs: %w", err)
		}
		for _, v := range page.Vpcs {
			note := aws.ToString(v.CidrBlock)
			if n := nameTag(v.Tags); n != "" {
				note += "  " + n
			}
			if aws.ToBool(v.IsDefault) {
				note += "  (the region's default VPC)"
			}
			cs = append(cs, choice{value: aws.ToString(v.VpcId), note: note})
		}
	}
	return cs, nil
}

func (w *wizard) subnets(ctx context.Context, vpc string) ([]choice, error) {
	if !w.interactive || vpc == "" || w.a.subnet != "" {
		return nil, nil
	}
	var cs []choice
	p := ec2.NewDescribeSubnetsPaginator(w.ec2, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list subnets of %s: %w", vpc, err)
		}
		for _, s := range page.Subnets {
			note := aws.ToString(s.AvailabilityZone) + "  " + aws.ToString(s.CidrBlock)
			if aws.ToBool(s.MapPublicIpOnLaunch) {
				note += "  public"
			}
			if n := nameTag(s.Tags); n != "" {
				note += "  " + n
			}
			cs = append(cs, choice{value: aws.ToString(s.SubnetId), note: note})
		}
	}
	slices.SortFunc(cs, func(a, b choice) int { return strings.Compare(a.note, b.note) })
	return cs, nil
}

func nameTag(tags []ec2types.Tag) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == "Name" {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// writeSpec writes the cluster's spec file into dir, refusing to replace
// an existing file unless forced, and says what to do next.
func writeSpec(c *spec.Cluster, dir string, force bool, stdout io.Writer) error {
	data, err := spec.Marshal(c)
	if err != nil {
		return err
	}
	file := filepath.Join(dir, c.Name+".yaml")
	if _, err := os.Stat(file); err == nil && !force {
		return fmt.Errorf("%s exists; choose another name or pass --force to replace it", file)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	header := "# Written by reconciler configure. Commit and push it; the daemon creates the cluster.\n"
	tmp, err := os.CreateTemp(dir, ".configure-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(header + string(data)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nWrote %s. Next:\n  git add %s && git commit -m 'cluster %s' && git push\n", file, file, c.Name)
	return nil
}
