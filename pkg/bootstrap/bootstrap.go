package bootstrap

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"unicode"
)

// Role says what a node is in its cluster.
type Role string

// The roles of a node.
const (
	RoleHead    Role = "head"
	RoleCompute Role = "compute"
)

// Mount types.
const (
	MountEBS  = "ebs"  // a volume attached to the head node
	MountRAID = "raid" // an array over volumes attached to the head node
	MountEFS  = "efs"  // an Elastic File System
	MountNFS  = "nfs"  // a directory the head node exports
)

// Export scopes: who may mount the head node's NFS exports.
const (
	ExportSubnet = "subnet" // the head node's subnet only
	ExportVPC    = "vpc"    // every CIDR of the VPC, for queues in other subnets
)

// LogFile is where every node's bootstrap writes what it does.
const LogFile = "/var/log/driftless-bootstrap.log"

// MaxUserData is the largest user data EC2 accepts, before base64.
const MaxUserData = 16 << 10

// Value is a setting known when the script is rendered (Text) or only when
// CloudFormation creates the stack (Sub: an Fn::Sub variable such as
// HeadNode.PrivateIp or a resource's logical id).
type Value struct {
	Text string
	Sub  string
}

// Script is a site script a node fetches (s3://, https:// or http://) and
// runs as root with its arguments.
type Script struct {
	URL  string
	Args []string
}

// Mount is one shared directory of a node.
type Mount struct {
	// Dir is the absolute directory.
	Dir string
	// Type is MountEBS, MountRAID, MountEFS or MountNFS.
	Type string
	// Devices are the device names the volumes are attached as (ebs: one,
	// raid: two or more).
	Devices []string
	// RAIDLevel is 0 or 1, raid only.
	RAIDLevel int
	// FileSystem is the EFS file system id, efs only.
	FileSystem Value
}

// Config is what a node's script is rendered from.
type Config struct {
	Cluster string
	Stack   string
	Region  string
	// Scheduler is slurm, sge or torque.
	Scheduler string
	// OS is the base OS: see OSes.
	OS   string
	Role Role
	// Queue is a compute node's queue.
	Queue string
	// Queues are the queue names, head node only.
	Queues []string
	// HeadParameter is the SSM parameter holding the head node's
	// configuration as JSON ({"queues": [{"name", "maxNodes"}...]}); a
	// Slurm head node reads its partitions from it at boot and every
	// minute, so queues change without a new user data.
	HeadParameter string
	LoginUser     string
	// SchedulerPreinstalled says the image already has the scheduler: no
	// scheduler package is installed.
	SchedulerPreinstalled bool
	// Proxy is the HTTP(S) proxy for the OS, the package manager and the
	// scheduler's daemons.
	Proxy       string
	PreInstall  *Script
	PostInstall *Script
	// Mounts are the shared directories, in the order to mount them.
	// Compute nodes mount /home and the head node's shared directory
	// besides these.
	Mounts []Mount
	// ExportTo is ExportSubnet or ExportVPC, head node only.
	ExportTo string
	// HeadAddress is the head node's private address, compute nodes only.
	HeadAddress Value
	// WaitHandle is the URL of the CloudFormation wait condition handle
	// the head node signals; empty on compute nodes.
	WaitHandle Value
}

//go:embed templates/*.sh templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"q":    quote,
	"qv":   quoteValue,
	"join": strings.Join,
}).ParseFS(templateFS, "templates/*.tmpl"))

// sentinel marks an Fn::Sub variable in the executed template, which may
// hold ${ of the scripts' own (to be escaped) and of the user's text.
const sentinel = "\x00sub:"

var subName = regexp.MustCompile(`^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$`)

// quote makes s one shell word.
func quote(s string) string {
	if s == "" {
		return "''"
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteValue is quote for a Value; a variable is quoted too, so its value
// (an address, an id, a URL) becomes one word.
func quoteValue(v Value) string {
	if v.Sub == "" {
		return quote(v.Text)
	}
	return "'" + sentinel + v.Sub + "\x00'"
}

// view is what the templates see.
type view struct {
	Config
	OSInfo     osInfo
	Lib        string
	Sched      string
	Packages   []string
	SchedPkgs  []string
	Services   map[string]string
	HasStorage bool
	HasEBS     bool
	HasRAID    bool
	HasEFS     bool
}

// Render returns the user data of one node in Fn::Sub form: "${!" stands
// for a literal "${" and "${Name}" is a variable CloudFormation fills in.
// Resolve does the same substitution locally.
func Render(cfg Config) (string, error) {
	if err := check(cfg); err != nil {
		return "", err
	}
	o, err := lookupOS(cfg.OS)
	if err != nil {
		return "", err
	}
	lib, err := templateFS.ReadFile("templates/lib.sh")
	if err != nil {
		return "", err
	}
	v := view{Config: cfg, OSInfo: o, Lib: string(lib), Sched: cfg.Scheduler, Services: o.Services}
	v.Packages = append(v.Packages, o.Packages[pkgBase]...)
	for _, m := range cfg.Mounts {
		switch m.Type {
		case MountEBS:
			v.HasStorage, v.HasEBS = true, true
		case MountRAID:
			v.HasStorage, v.HasRAID = true, true
		case MountEFS:
			v.HasEFS = true
		}
	}
	if cfg.Role == RoleHead {
		v.Packages = append(v.Packages, o.Packages[pkgNFSServer]...)
		if v.HasRAID {
			v.Packages = append(v.Packages, o.Packages[pkgRAID]...)
		}
		v.SchedPkgs = o.Packages[cfg.Scheduler+"-head"]
	} else {
		v.SchedPkgs = o.Packages[cfg.Scheduler+"-compute"]
	}
	v.Packages = unique(v.Packages)
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, string(cfg.Role)+".sh.tmpl", v); err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	text := strings.ReplaceAll(stripComments(dropUnused(stripComments(buf.String()))), "${", "${!")
	text, err = unsentinel(text)
	if err != nil {
		return "", err
	}
	sizes := map[string]int{cfg.HeadAddress.Sub: addressSize, cfg.WaitHandle.Sub: urlSize}
	for _, m := range cfg.Mounts {
		sizes[m.FileSystem.Sub] = idSize
	}
	if n := resolvedSize(text, sizes); n > MaxUserData {
		return "", fmt.Errorf("bootstrap: the %s node's user data would be %d bytes, more than EC2's %d", cfg.Role, n, MaxUserData)
	}
	return text, nil
}

// stripComments drops the templates' comment lines after the script's
// header, indentation and blank-line runs, to stay within EC2's user data
// limit of 16 KiB: the templates are the readable, documented source.
// Shell directives ("# shellcheck ...") stay.
func stripComments(s string) string {
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	header := true
	for _, l := range lines {
		t := strings.TrimLeft(l, "\t ")
		if header {
			out = append(out, l)
			if !strings.HasPrefix(t, "#") {
				header = false
			}
			continue
		}
		if t == "#" || (strings.HasPrefix(t, "# ") && !strings.HasPrefix(t, "# shellcheck ")) {
			continue
		}
		if t == "" && len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
			continue
		}
		if strings.HasPrefix(t, "# shellcheck ") {
			t, _, _ = strings.Cut(t, " # ") // the directive stays, its reason goes
		}
		out = append(out, t)
	}
	return strings.Join(out, "\n")
}

// unique drops repeated names, keeping the first of each.
func unique(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

var funcDef = regexp.MustCompile(`^([a-z_][a-z0-9_]*)\(\) \{`)

// dropUnused removes the shell functions that nothing in the script
// calls, the library's functions a role or scheduler does not need.
func dropUnused(s string) string {
	for {
		lines := strings.Split(s, "\n")
		removed := false
		for i := 0; i < len(lines); i++ {
			m := funcDef.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			end := i
			if !strings.HasSuffix(strings.TrimSpace(lines[i]), "}") {
				for end < len(lines) && lines[end] != "}" {
					end++
				}
			}
			rest := strings.Join(lines[:i], "\n") + "\n" + strings.Join(lines[end+1:], "\n")
			if regexp.MustCompile(`\b` + m[1] + `\b`).MatchString(rest) {
				continue
			}
			lines = append(lines[:i], lines[end+1:]...)
			removed = true
			break
		}
		s = strings.Join(lines, "\n")
		if !removed {
			return s
		}
	}
}

func unsentinel(text string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(text, sentinel)
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		b.WriteString(text[:i])
		rest := text[i+len(sentinel):]
		j := strings.IndexByte(rest, 0)
		if j < 0 {
			return "", errors.New("bootstrap: unterminated variable")
		}
		b.WriteString("${" + rest[:j] + "}")
		text = rest[j+1:]
	}
}

// check refuses what would make a broken or unsafe script.
func check(cfg Config) error {
	switch cfg.Scheduler {
	case "slurm", "sge", "torque":
	default:
		return fmt.Errorf("bootstrap: no node bootstrap for scheduler %q", cfg.Scheduler)
	}
	switch cfg.Role {
	case RoleHead:
		if len(cfg.Queues) == 0 && cfg.Scheduler != "slurm" {
			return errors.New("bootstrap: the head node needs its queue")
		}
		if cfg.Scheduler == "slurm" && !strings.HasPrefix(cfg.HeadParameter, "/") {
			return fmt.Errorf("bootstrap: a Slurm head node needs the SSM parameter of its configuration, not %q", cfg.HeadParameter)
		}
		if cfg.ExportTo != ExportSubnet && cfg.ExportTo != ExportVPC {
			return fmt.Errorf("bootstrap: export scope %q is neither %s nor %s", cfg.ExportTo, ExportSubnet, ExportVPC)
		}
	case RoleCompute:
		if cfg.Queue == "" {
			return errors.New("bootstrap: a compute node needs its queue")
		}
		if cfg.HeadAddress == (Value{}) {
			return errors.New("bootstrap: a compute node needs the head node's address")
		}
	default:
		return fmt.Errorf("bootstrap: unknown role %q", cfg.Role)
	}
	for _, q := range append([]string{cfg.Queue}, cfg.Queues...) {
		if q != "" && !strings.ContainsFunc(q, func(r rune) bool { return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }) {
			return fmt.Errorf("bootstrap: queue name %q has no letter or digit", q)
		}
		if q != "" && !queueName.MatchString(q) {
			return fmt.Errorf("bootstrap: queue name %q is not a scheduler name (letters, digits, - and _)", q)
		}
	}
	for _, m := range cfg.Mounts {
		if !strings.HasPrefix(m.Dir, "/") || strings.ContainsAny(m.Dir, " \t\n'\"\\$`") || m.Dir == "/" {
			return fmt.Errorf("bootstrap: mount directory %q must be an absolute path without spaces or quotes", m.Dir)
		}
		switch m.Type {
		case MountEBS, MountRAID, MountEFS, MountNFS:
		default:
			return fmt.Errorf("bootstrap: mount %s has unknown type %q", m.Dir, m.Type)
		}
	}
	for _, v := range []Value{cfg.HeadAddress, cfg.WaitHandle} {
		if v.Sub != "" && !subName.MatchString(v.Sub) {
			return fmt.Errorf("bootstrap: bad variable name %q", v.Sub)
		}
	}
	for _, m := range cfg.Mounts {
		if m.FileSystem.Sub != "" && !subName.MatchString(m.FileSystem.Sub) {
			return fmt.Errorf("bootstrap: bad variable name %q", m.FileSystem.Sub)
		}
	}
	all := []string{cfg.Cluster, cfg.Stack, cfg.Region, cfg.Proxy, cfg.LoginUser, cfg.HeadParameter}
	for _, s := range []*Script{cfg.PreInstall, cfg.PostInstall} {
		if s != nil {
			all = append(append(all, s.URL), s.Args...)
		}
	}
	for _, s := range all {
		if strings.ContainsRune(s, 0) {
			return errors.New("bootstrap: a setting contains a NUL byte")
		}
	}
	return nil
}

// Most bytes CloudFormation puts in place of a variable: a wait condition
// handle is a presigned S3 URL of about 500 bytes, an address at most 15,
// a file system id 21.
const (
	urlSize     = 640
	addressSize = 15
	idSize      = 32
)

// resolvedSize is the size of text in Fn::Sub form once CloudFormation has
// substituted it (vars says how long each variable may become): EC2's
// limit applies to that.
func resolvedSize(text string, vars map[string]int) int {
	n := len(text) - strings.Count(text, "${!")
	for i := 0; ; {
		j := strings.Index(text[i:], "${")
		if j < 0 {
			return n
		}
		i += j + 2
		if strings.HasPrefix(text[i:], "!") {
			continue
		}
		k := strings.IndexByte(text[i:], '}')
		if k < 0 {
			return n
		}
		size, ok := vars[text[i:i+k]]
		if !ok {
			size = urlSize
		}
		n += size - (k + 3)
		i += k + 1
	}
}

var queueName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// Resolve does locally what CloudFormation does to an Fn::Sub string:
// every ${Name} becomes vars[Name] and every ${!x} becomes ${x}. A
// variable missing from vars is an error.
func Resolve(text string, vars map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		b.WriteString(text[:i])
		text = text[i+2:]
		if strings.HasPrefix(text, "!") {
			b.WriteString("${")
			text = text[1:]
			continue
		}
		j := strings.IndexByte(text, '}')
		if j < 0 {
			return "", errors.New("resolve: unterminated ${")
		}
		v, ok := vars[text[:j]]
		if !ok {
			return "", fmt.Errorf("resolve: no value for ${%s}", text[:j])
		}
		b.WriteString(v)
		text = text[j+1:]
	}
}
