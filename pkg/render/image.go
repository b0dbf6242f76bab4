package render

import (
	"fmt"
	"strings"

	"github.com/driftless/driftless/pkg/spec"
)

// Architectures an image can be built for.
const (
	archX86   = "x86_64"
	archArm64 = "arm64"
)

// osInfo is what the renderer needs to know about a base OS.
type osInfo struct {
	// images are the public SSM parameters naming the newest image of
	// the OS per architecture. A cluster without its own AMI gets its image
	// through an ImageParameter that apply resolves from one of these when
	// it creates the stack. Empty when the OS publishes none.
	images map[string]string
	// paramPrefix names the OS in the template parameter's logical id.
	paramPrefix string
	// rootDevice is the root device name of the OS's images, where a root
	// volume size applies. A custom AMI is built from the base OS and
	// keeps its device name.
	rootDevice string
	// loginUser is the default user of the OS's images.
	loginUser string
}

// baseOSes are the base OSes the spec accepts.
//
// moto 5.2.5 resolves the Amazon Linux parameters from a snapshot it ships
// (moto/ssm/resources/ami-amazon-linux-latest/<region>.json.gz) but not
// Canonical's: against the emulator, an Ubuntu cluster needs headNode.ami.
// CentOS and Rocky Linux publish no SSM parameter for their images, so a
// centos7 or rocky9 cluster must name its AMI.
var baseOSes = map[string]osInfo{
	"alinux2023": {
		images: map[string]string{
			archX86:   "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
			archArm64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
		},
		paramPrefix: "Alinux2023",
		rootDevice:  "/dev/xvda",
		loginUser:   "ec2-user",
	},
	"ubuntu2204": {
		images: map[string]string{
			archX86:   "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id",
			archArm64: "/aws/service/canonical/ubuntu/server/22.04/stable/current/arm64/hvm/ebs-gp2/ami-id",
		},
		paramPrefix: "Ubuntu2204",
		rootDevice:  "/dev/sda1",
		loginUser:   "ubuntu",
	},
	"ubuntu2404": {
		images: map[string]string{
			archX86:   "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
			archArm64: "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id",
		},
		paramPrefix: "Ubuntu2404",
		rootDevice:  "/dev/sda1",
		loginUser:   "ubuntu",
	},
	"rocky9": {
		rootDevice: "/dev/sda1",
		loginUser:  "rocky",
	},
	"alinux2": {
		images: map[string]string{
			archX86:   "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-x86_64-gp2",
			archArm64: "/aws/service/ami-amazon-linux-latest/amzn2-ami-kernel-5.10-hvm-arm64-gp2",
		},
		paramPrefix: "Alinux2",
		rootDevice:  "/dev/xvda",
		loginUser:   "ec2-user",
	},
	"centos7": {
		rootDevice: "/dev/sda1",
		loginUser:  "centos",
	},
	"ubuntu1804": {
		images: map[string]string{
			archX86:   "/aws/service/canonical/ubuntu/server/18.04/stable/current/amd64/hvm/ebs-gp2/ami-id",
			archArm64: "/aws/service/canonical/ubuntu/server/18.04/stable/current/arm64/hvm/ebs-gp2/ami-id",
		},
		paramPrefix: "Ubuntu1804",
		rootDevice:  "/dev/sda1",
		loginUser:   "ubuntu",
	},
	"ubuntu2004": {
		images: map[string]string{
			archX86:   "/aws/service/canonical/ubuntu/server/20.04/stable/current/amd64/hvm/ebs-gp2/ami-id",
			archArm64: "/aws/service/canonical/ubuntu/server/20.04/stable/current/arm64/hvm/ebs-gp2/ami-id",
		},
		paramPrefix: "Ubuntu2004",
		rootDevice:  "/dev/sda1",
		loginUser:   "ubuntu",
	},
}

// defaultBaseOS is the base OS of a spec that names none (spec.Parse always
// fills it in; clusters built in code may not).
const defaultBaseOS = "alinux2"

func baseOS(c *spec.Cluster) (string, osInfo, error) {
	name := c.BaseOS
	if name == "" {
		name = defaultBaseOS
	}
	info, ok := baseOSes[name]
	if !ok {
		return name, osInfo{}, fmt.Errorf("unknown base OS %q", name)
	}
	return name, info, nil
}

// archOf guesses the CPU architecture of an EC2 instance type from its
// name: Graviton families carry a "g" among the attribute letters after the
// generation digit (m7g, c6gn, t4g, x2gd, is4gen, hpc7g), while families
// that merely start with g (g5, g4dn) are x86. An x86 image on a Graviton
// instance does not boot, so the default image must follow the type.
func archOf(instanceType string) string {
	family, _, _ := strings.Cut(instanceType, ".")
	if family == "a1" { // the first Graviton generation has no "g"
		return archArm64
	}
	i := strings.IndexFunc(family, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return archX86
	}
	rest := strings.TrimLeft(family[i:], "0123456789")
	// Strip a suffix such as "-flex" of m7i-flex before looking.
	rest, _, _ = strings.Cut(rest, "-")
	if strings.Contains(rest, "g") {
		return archArm64
	}
	return archX86
}

// ImageParameter is a template parameter that takes the image of the
// nodes of a cluster without a custom AMI.
//
// The template gives it no default: apply resolves Path when it creates
// the stack and keeps the stack's value on every update
// (UsePreviousValue), so the image changes only when the spec does. A
// parameter of type AWS::SSM::Parameter::Value<AWS::EC2::Image::Id> would
// be resolved again by CloudFormation at every stack update: once a new
// image is published, an update the plan shows as harmless would replace
// the head node, and its root volume with it.
type ImageParameter struct {
	// Name is the parameter's logical id, e.g. Alinux2X86ImageId. It names
	// the base OS and the architecture, so a spec that changes either gets
	// a new parameter, resolved anew. A new Path under an existing Name
	// changes no live stack's image.
	Name string
	// Path is the public SSM parameter naming the newest image of the
	// base OS for the architecture.
	Path string
}

// imageFor returns the ImageId value for an instance of the given type: the
// spec's AMI when it names one, else a Ref to the ImageParameter of the base
// OS and the instance's architecture, declared on first use.
func (b *builder) imageFor(instanceType string) any {
	if b.c.HeadNode.AMI != "" {
		return b.c.HeadNode.AMI
	}
	name, info, err := baseOS(b.c)
	if err != nil {
		b.fail(err)
		return nil
	}
	arch := archOf(instanceType)
	path := info.images[arch]
	if path == "" {
		b.fail(fmt.Errorf("base OS %s publishes no public image parameter for %s: set headNode.ami", name, arch))
		return nil
	}
	id := info.paramPrefix + map[string]string{archX86: "X86", archArm64: "Arm64"}[arch] + "ImageId"
	b.addParameter(id, parameter{
		Type:        "AWS::EC2::Image::Id",
		Description: "The " + name + " " + arch + " image of nodes without a custom AMI, resolved from " + path + " once and kept by updates",
	})
	if b.images == nil {
		b.images = map[string]string{}
	}
	b.images[id] = path
	return ref(id)
}

// rootVolume returns the block device mapping that sets the root volume
// size, or nil when the image's own size applies.
func (b *builder) rootVolume(sizeGiB int) []map[string]any {
	if sizeGiB == 0 {
		return nil
	}
	_, info, err := baseOS(b.c)
	if err != nil {
		b.fail(err)
		return nil
	}
	return []map[string]any{{
		"DeviceName": info.rootDevice,
		"Ebs": map[string]any{
			"VolumeSize":          sizeGiB,
			"VolumeType":          "gp3",
			"DeleteOnTermination": true,
		},
	}}
}

// loginUser is the spec's login user, or the default user of the base OS.
func loginUser(c *spec.Cluster) string {
	if c.LoginUser != "" {
		return c.LoginUser
	}
	if _, info, err := baseOS(c); err == nil {
		return info.loginUser
	}
	return "ec2-user"
}
