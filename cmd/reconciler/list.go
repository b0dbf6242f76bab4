package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	awsbatch "github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/inventory"
	"github.com/driftless/driftless/pkg/source"
	"github.com/driftless/driftless/pkg/spec"
)

// defaultConfigPath is where the daemon's config lives on its host.
const defaultConfigPath = "/etc/driftless/config.yaml"

// clusterFlags are the flags of the commands that look at clusters: where
// the repo is, which AWS account and region, and optionally the daemon.
type clusterFlags struct {
	config   string
	repo     string
	region   string
	endpoint string
	profile  string
	daemon   string
	output   string
	color    string
}

// register adds the flags; output adds --output, daemon adds --daemon.
func (f *clusterFlags) register(fs *flag.FlagSet, output, daemon bool) {
	fs.StringVar(&f.config, "config", "", "daemon config file: the repo and AWS settings (default "+defaultConfigPath+" when it exists)")
	fs.StringVar(&f.repo, "repo", "", "directory of cluster specs (a working copy's clusters/), instead of the config's repo")
	fs.StringVar(&f.region, "region", "", "AWS region (default: the config's, then $AWS_REGION)")
	fs.StringVar(&f.endpoint, "endpoint", "", "AWS endpoint URL, e.g. an emulator's")
	fs.StringVar(&f.profile, "profile", "", "AWS shared config profile")
	if daemon {
		fs.StringVar(&f.daemon, "daemon", "", "URL of a running daemon (http://host:9810): take conditions, blocked reasons and idle nodes from it")
	}
	fs.StringVar(&f.color, "color", "auto", "colour: auto (only on a terminal), always or never")
	if output {
		fs.StringVar(&f.output, "output", "text", "text or json")
	}
}

// session is what the cluster commands work with once flags are read.
type session struct {
	cfg    *Config // nil without a config file
	aws    aws.Config
	flags  *clusterFlags
	stderr io.Writer
}

// open reads the config (when there is one) and builds the AWS
// configuration.
func (f *clusterFlags) open(ctx context.Context, stderr io.Writer) (*session, error) {
	if f.output != "" && f.output != "text" && f.output != "json" {
		return nil, &exitError{code: 2, err: fmt.Errorf("--output must be text or json, got %q", f.output)}
	}
	if _, err := colorOn(f.color, nil); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	s := &session{flags: f, stderr: stderr}
	path := f.config
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		}
	}
	if path != "" {
		cfg, err := loadConfig(path)
		if err != nil {
			return nil, err
		}
		s.cfg = cfg
	}
	ac := awsclient.Config{Region: f.region, Endpoint: f.endpoint, Profile: f.profile}
	if s.cfg != nil {
		if ac.Region == "" {
			ac.Region = s.cfg.AWS.Region
		}
		if ac.Endpoint == "" {
			ac.Endpoint = s.cfg.AWS.Endpoint
		}
	}
	var err error
	if s.aws, err = awsclient.Load(ctx, ac, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// declared reads the specs: from --repo, or from the config's repo. With
// neither, nothing is declared and sync states are Unknown.
func (s *session) declared(ctx context.Context) (inventory.Declared, error) {
	var src interface {
		Fetch(ctx context.Context) (source.Snapshot, error)
	}
	log := slog.New(slog.DiscardHandler)
	switch {
	case s.flags.repo != "":
		src = source.NewDir(s.flags.repo, log)
	case s.cfg != nil && s.cfg.Repo.Dir != "":
		src = source.NewDir(s.cfg.Repo.Dir, log)
	case s.cfg != nil && s.cfg.Repo.URL != "":
		// A clone of its own: the daemon's cache belongs to the daemon.
		cache, err := os.UserCacheDir()
		if err != nil {
			return inventory.Declared{}, fmt.Errorf("a cache directory for the repo: %w", err)
		}
		sum := sha256.Sum256([]byte(s.cfg.Repo.URL + "\x00" + s.cfg.Repo.Branch))
		g, err := source.NewGit(source.GitConfig{
			URL: s.cfg.Repo.URL, Branch: s.cfg.Repo.Branch, Path: s.cfg.Repo.Path,
			CacheDir: filepath.Join(cache, "driftless", "repo-"+hex.EncodeToString(sum[:6])),
		}, log)
		if err != nil {
			return inventory.Declared{}, err
		}
		src = g
	default:
		return inventory.Declared{}, nil
	}
	snap, err := src.Fetch(ctx)
	if err != nil {
		return inventory.Declared{}, fmt.Errorf("read cluster repo: %w", err)
	}
	files := make(map[string][]byte, len(snap.Files))
	for name, data := range snap.Files {
		files[path.Join(snap.Dir, name)] = data
	}
	set := spec.Load(files)
	return inventory.Declared{Revision: snap.Revision, Set: &set}, nil
}

// inventory makes the one round of batched reads and joins it with the
// repo and, when asked, the daemon. cluster narrows the instance read.
func (s *session) inventory(ctx context.Context, cluster string, withRepo bool) (*inventory.Inventory, error) {
	var d inventory.Declared
	if withRepo {
		var err error
		if d, err = s.declared(ctx); err != nil {
			return nil, err
		}
	}
	p := newProgress(s.stderr, false)
	p.transient("reading stacks, groups and instances in " + s.aws.Region + "…")
	defer p.done()
	r := &inventory.Reader{
		CFN:   cloudformation.NewFromConfig(s.aws),
		ASG:   autoscaling.NewFromConfig(s.aws),
		EC2:   ec2.NewFromConfig(s.aws),
		Batch: awsbatch.NewFromConfig(s.aws),
	}
	live, err := r.Read(ctx, cluster)
	if err != nil {
		return nil, err
	}
	inv := inventory.Join(d, live)
	if s.flags.daemon != "" {
		dm, err := inventory.FetchDaemon(ctx, &http.Client{Timeout: 10 * time.Second}, s.flags.daemon)
		if err != nil {
			// The repo and AWS still answer; say what is missing.
			fmt.Fprintf(s.stderr, "reconciler: %v; conditions are computed from the repo and AWS\n", err)
		} else {
			inv.Overlay(dm)
		}
	}
	return inv, nil
}

// runList is `reconciler list`: one line per cluster.
func runList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f clusterFlags
	f.register(fs, true, true)
	names := fs.Bool("names", false, "print cluster names only, one a line (for shell completion)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("list takes no arguments; status CLUSTER shows one cluster")}
	}
	s, err := f.open(ctx, stderr)
	if err != nil {
		return err
	}
	inv, err := s.inventory(ctx, "", !*names)
	if err != nil {
		return err
	}
	if *names {
		for _, n := range inv.Names() {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	if f.output == "json" {
		return writeJSON(stdout, inv)
	}
	color, _ := colorOn(f.color, stdout)
	return writeList(stdout, inv, color)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeList(w io.Writer, inv *inventory.Inventory, color bool) error {
	t := &table{header: []string{"CLUSTER", "SCHEDULER", "STACK STATUS", "SYNC", "CONDITION", "REASON", "HEAD NODE", "USER", "FLEET min/desired/max/in", "IDLE"}}
	for _, c := range inv.Clusters {
		t.add(plain(c.Name), plain(c.Scheduler), status(c.StackStatus), status(string(c.Sync)), status(c.Condition), plain(c.Reason),
			plain(headAddress(c.HeadNode)), plain(c.LoginUser), plain(fleetSummary(c)), plain(idle(c.Idle)))
	}
	if err := t.write(w, color); err != nil {
		return err
	}
	for _, f := range sortedKeys(inv.Invalid) {
		fmt.Fprintf(w, "%s: %s (reconciler validate shows why)\n", paint(color, colorBad, "invalid"), f)
	}
	return nil
}

func headAddress(h *inventory.Instance) string {
	if h == nil {
		return ""
	}
	switch {
	case h.PublicIP != "" && h.PrivateIP != "":
		return h.PublicIP + " (" + h.PrivateIP + ")"
	case h.PublicIP != "":
		return h.PublicIP
	}
	return h.PrivateIP
}

// fleetSummary is min/desired/max/in-service summed over the groups, or
// the vCPUs of a Batch compute environment.
func fleetSummary(c inventory.Cluster) string {
	if c.Batch != nil {
		return fmt.Sprintf("%d/%d/%d vCPUs", c.Batch.MinVCPUs, c.Batch.DesiredVCPUs, c.Batch.MaxVCPUs)
	}
	if len(c.Fleet) == 0 {
		return ""
	}
	var mn, des, mx, in int
	for _, g := range c.Fleet {
		mn, des, mx, in = mn+g.Min, des+g.Desired, mx+g.Max, in+g.InService
	}
	return fmt.Sprintf("%d/%d/%d/%d", mn, des, mx, in)
}

func idle(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// runStatus is `reconciler status [CLUSTER]`: every detail of one
// cluster, or of each.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f clusterFlags
	f.register(fs, true, true)
	if err := fs.Parse(interleave(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 1 {
		return &exitError{code: 2, err: errors.New("usage: reconciler status [CLUSTER]")}
	}
	s, err := f.open(ctx, stderr)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	inv, err := s.inventory(ctx, name, true)
	if err != nil {
		return err
	}
	clusters := inv.Clusters
	if name != "" {
		c, ok := inv.Find(name)
		if !ok {
			return fmt.Errorf("cluster %s: neither declared in the repo nor live in %s", name, s.aws.Region)
		}
		clusters = []inventory.Cluster{*c}
		if f.output == "json" {
			return writeJSON(stdout, c)
		}
	} else if f.output == "json" {
		return writeJSON(stdout, inv)
	}
	color, _ := colorOn(f.color, stdout)
	for i, c := range clusters {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeStatus(stdout, c, color)
	}
	return nil
}

func writeStatus(w io.Writer, c inventory.Cluster, color bool) {
	field := func(k, v, code string) {
		if v == "" {
			return
		}
		fmt.Fprintf(w, "  %-18s %s\n", k+":", paint(color, code, v))
	}
	fmt.Fprintf(w, "%s\n", paint(color, colorHeader, c.Name))
	field("condition", c.Condition, conditionColor(c.Condition))
	field("reason", c.Reason, colorNone)
	field("message", c.Message, colorNone)
	field("scheduler", c.Scheduler, colorNone)
	field("spec file", c.File, colorNone)
	field("stack", c.Stack, colorNone)
	field("stack status", strings.TrimSpace(c.StackStatus+" "+c.StackReason), conditionColor(c.StackStatus))
	field("sync", string(c.Sync), conditionColor(string(c.Sync)))
	field("declared revision", shortRev(c.DeclaredRevision), colorNone)
	field("applied revision", shortRev(c.AppliedRevision), colorNone)
	for _, d := range c.Drift {
		field("drift", d, colorWarn)
	}
	if h := c.HeadNode; h != nil {
		field("head node", strings.TrimSpace(h.ID+" "+h.State), conditionColor(h.State))
		field("public IP", h.PublicIP, colorNone)
		field("private IP", h.PrivateIP, colorNone)
	}
	field("login user", c.LoginUser, colorNone)
	for _, g := range c.Fleet {
		field("group "+g.Queue, fmt.Sprintf("%s min %d desired %d max %d in service %d", g.Name, g.Min, g.Desired, g.Max, g.InService), colorNone)
	}
	if b := c.Batch; b != nil {
		field("compute env", fmt.Sprintf("%s %s/%s vCPUs min %d desired %d max %d", shortARN(b.ARN), b.State, b.Status, b.MinVCPUs, b.DesiredVCPUs, b.MaxVCPUs), conditionColor(b.Status))
		field("job queue", shortARN(b.JobQueue), colorNone)
	}
	field("idle nodes", idle(c.Idle), colorNone)
	field("instances", instanceCount(c.Instances), colorNone)
}

func instanceCount(in []inventory.Instance) string {
	if len(in) == 0 {
		return ""
	}
	running := 0
	for _, i := range in {
		if i.State == "running" {
			running++
		}
	}
	return fmt.Sprintf("%d (%d running)", len(in), running)
}

// shortRev is the first 12 characters of a commit id.
func shortRev(rev string) string { return rev[:min(len(rev), 12)] }

func shortARN(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// interleave lets flags follow positional arguments (status alpha
// --output json), which the flag package alone stops at.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if fl := fs.Lookup(name); fl != nil {
			if bf, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(append(flags, "--"), pos...)
}
