package spec

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// kind is a named shape of string value (an AWS id, a CIDR, a name), shared
// by every field whose tag says kind=NAME, by the error messages and by the
// JSON Schema.
type kind struct {
	// pattern is the regular expression the value matches, also written to
	// the JSON Schema.
	pattern string
	// maxLen bounds the length, 0 for no bound.
	maxLen int
	// want completes "must be ...": what a right value looks like.
	want string
	// check, when set, runs after the pattern matched and returns what is
	// wrong, or "".
	check func(string) string
}

// idPattern is an EC2 resource id: the prefix and 8 or 17 lowercase
// letters or digits. Real ids are hex, but documentation and imported
// configs carry made-up ids with other letters, and those must load.
func idPattern(prefix string) string {
	return "^" + prefix + "-[0-9a-z]{8}([0-9a-z]{9})?$"
}

// kinds are the value shapes by name. The table is read-only.
var kinds = map[string]kind{
	"approval": {
		pattern: "^[A-Za-z][^=\\s]*=\\S.*$",
		maxLen:  512,
		want:    "a change as reconciler plan prints it: SETTING=NEW-VALUE, e.g. headNode.instanceType=c5.xlarge",
	},
	"clusterName": {
		pattern: "^[A-Za-z][A-Za-z0-9-]*$",
		maxLen:  100,
		want:    "a name that starts with a letter and holds only letters, digits and hyphens, at most 100 characters (the stack is named driftless-NAME)",
	},
	"queueName": {
		pattern: "^[a-z]([a-z0-9-]*[a-z0-9])?$",
		maxLen:  63,
		want:    "a lowercase name of letters, digits and hyphens that starts with a letter and does not end with a hyphen, at most 63 characters",
	},
	"region": {
		pattern: "^[a-z]{2}(-[a-z]+)+-[0-9]+$",
		want:    "an AWS region such as us-east-1",
	},
	"loginUser": {
		pattern: "^[a-z_][a-z0-9_-]*$",
		maxLen:  32,
		want:    "a Linux user name such as ec2-user",
	},
	"instanceType": {
		pattern: "^[a-z][a-z0-9-]*\\.[a-z0-9-]+$",
		want:    "an EC2 instance type such as c5.xlarge",
	},
	"keyPair": {
		pattern: "^[\\x20-\\x7e]+$",
		maxLen:  255,
		want:    "an EC2 key pair name (printable ASCII, at most 255 characters)",
	},
	"cidr": {
		pattern: "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$",
		want:    cidrWant,
		check:   checkCIDR,
	},
	"vpc":           {pattern: idPattern("vpc"), want: "a VPC id such as vpc-0123456789abcdef0"},
	"subnet":        {pattern: idPattern("subnet"), want: "a subnet id such as subnet-0123456789abcdef0"},
	"ami":           {pattern: idPattern("ami"), want: "an AMI id such as ami-0123456789abcdef0"},
	"securityGroup": {pattern: idPattern("sg"), want: "a security group id such as sg-0123456789abcdef0"},
	"snapshot":      {pattern: idPattern("snap"), want: "an EBS snapshot id such as snap-0123456789abcdef0"},
	"volume":        {pattern: idPattern("vol"), want: "an EBS volume id such as vol-0123456789abcdef0"},
	"efs":           {pattern: idPattern("fs"), want: "an EFS file system id such as fs-0123456789abcdef0"},
	"batchInstanceType": {
		pattern: "^(optimal|[a-z][a-z0-9-]*(\\.[a-z0-9-]+)?)$",
		want:    "optimal, an instance family such as c5, or an instance type such as c5.xlarge",
	},
	"placementGroup": {
		pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$",
		maxLen:  255,
		want:    "dynamic, or the name of an existing placement group (letters, digits, . _ -)",
	},
	"mountDir": {
		pattern: "^/[A-Za-z0-9._/-]*$",
		want:    "an absolute directory such as /shared",
		check:   checkMountDir,
	},
	"kmsKey": {
		pattern: "^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_+=,.@-]+|alias/[A-Za-z0-9/_-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$",
		want:    "a KMS key id, key ARN or alias (alias/NAME)",
	},
	"iamRole": {
		pattern: "^([A-Za-z0-9+=,.@_-]{1,64}|arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+)$",
		want:    "an IAM role name or ARN such as arn:aws:iam::123456789012:role/hpc-nodes",
	},
	"iamPolicy": {
		pattern: "^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[A-Za-z0-9+=,.@_/-]+$",
		want:    "an IAM policy ARN such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
	},
	"s3Resource": {
		pattern: "^(\\*|arn:aws[a-z-]*:s3:::[a-z0-9.*-]+(/.*)?)$",
		want:    "* or an S3 ARN such as arn:aws:s3:::my-bucket/*",
	},
	"url": {
		pattern: "^(s3|https|http)://[^\\s]+$",
		maxLen:  2048,
		want:    kindWantURL,
		check:   checkScriptURL,
	},
	"proxy": {
		pattern: "^https?://[^\\s]+$",
		maxLen:  2048,
		want:    kindWantProxy,
		check:   checkProxyURL,
	},
	"tagKey": {
		pattern: "^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+$",
		maxLen:  128,
		want:    "a tag key of letters, digits, spaces and _ . : / = + - @, at most 128 characters",
	},
	"tagValue": {
		pattern: "^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$",
		maxLen:  256,
		want:    "a tag value of letters, digits, spaces and _ . : / = + - @, at most 256 characters",
	},
}

// kindRegexps are the compiled patterns of kinds. Read-only.
var kindRegexps = func() map[string]*regexp.Regexp {
	m := make(map[string]*regexp.Regexp, len(kinds))
	for name, k := range kinds {
		m[name] = regexp.MustCompile(k.pattern)
	}
	return m
}()

// checkKind returns what is wrong with value as a kind, or "".
func checkKind(name, value string) string {
	k, ok := kinds[name]
	if !ok {
		panic("spec: unknown kind " + name) // a bad struct tag: a bug, found by any test
	}
	if k.maxLen > 0 && len([]rune(value)) > k.maxLen {
		return fmt.Sprintf("must be %s; `%s` is %d characters long", k.want, clip(value), len([]rune(value)))
	}
	if !kindRegexps[name].MatchString(value) {
		return fmt.Sprintf("must be %s, not `%s`", k.want, clip(value))
	}
	if k.check != nil {
		return k.check(value)
	}
	return ""
}

const cidrWant = "an IPv4 CIDR such as 203.0.113.0/24 (or 203.0.113.7/32 for one address)"

// checkCIDR accepts an IPv4 network address with its prefix length. A
// CIDR with host bits set is refused with the network it probably means.
func checkCIDR(s string) string {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return fmt.Sprintf("must be %s, not `%s`", cidrWant, clip(s))
	}
	if m := p.Masked(); m != p {
		return fmt.Sprintf("`%s` has host bits set; did you mean `%s`?", s, m)
	}
	return ""
}

// clip shortens a value quoted in a message so one long line cannot drown
// the rest of the report.
func clip(s string) string {
	const max = 60
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}

// joinQuoted renders a list of words for a message: `a`, `b` or `c`.
func joinQuoted(words []string, last string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "`" + w + "`"
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + last + " " + q[len(q)-1]
}

// reservedDirs are directories the operating system, the schedulers or
// the node bootstrap own; shared storage mounted there would hide them.
var reservedDirs = []string{
	"/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/opt/slurm",
	"/opt/sge", "/opt/torque", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var",
}

// checkMountDir refuses directories that are not clean paths and the
// directories the system needs for itself.
func checkMountDir(s string) string {
	if c := path.Clean(s); c != s {
		return fmt.Sprintf("`%s` is not a clean path; did you mean `%s`?", clip(s), c)
	}
	if s == "/" {
		return "cannot be the root directory"
	}
	for _, r := range reservedDirs {
		if s == r {
			return fmt.Sprintf("cannot be `%s`: the system needs it; use a directory of its own such as /shared", s)
		}
	}
	for _, r := range []string{"/proc/", "/sys/", "/dev/"} {
		if strings.HasPrefix(s, r) {
			return fmt.Sprintf("cannot be under `%s`: the kernel owns it; use a directory of its own such as /shared", r)
		}
	}
	return ""
}

// checkScriptURL wants a host (or bucket) and a path to a script.
func checkScriptURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Sprintf("must be %s, not `%s`", kindWantURL, clip(s))
	}
	if u.Path == "" || u.Path == "/" {
		return fmt.Sprintf("`%s` names no script: add its path", clip(s))
	}
	return ""
}

// checkProxyURL wants a host and at most a port: a proxy is not a path.
func checkProxyURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Sprintf("must be %s, not `%s`", kindWantProxy, clip(s))
	}
	return ""
}

const (
	kindWantURL   = "an s3://, https:// or http:// URL of a script"
	kindWantProxy = "an http:// or https:// proxy URL such as http://proxy.example.com:8080"
)
