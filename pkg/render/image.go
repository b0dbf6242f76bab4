package render

import "strings"

// Public SSM parameters that name the newest Amazon Linux 2023 image. A
// cluster without its own AMI gets its image through a template parameter
// of type AWS::SSM::Parameter::Value<AWS::EC2::Image::Id> defaulting to one
// of these, so CloudFormation resolves the image at create and update time
// and the template stays the same from one image release to the next.
//
// moto 5.2.5 resolves these paths from a snapshot it ships
// (moto/ssm/resources/ami-amazon-linux-latest/<region>.json.gz), so the same
// template works against the emulator.
const (
	al2023X86SSM   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
	al2023Arm64SSM = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
)

// Architectures an image can be built for.
const (
	archX86   = "x86_64"
	archArm64 = "arm64"
)

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
	// Strip a size-like suffix such as "-m2" of mac2-m2 before looking.
	rest, _, _ = strings.Cut(rest, "-")
	if strings.Contains(rest, "g") {
		return archArm64
	}
	return archX86
}

// imageFor returns the ImageId value for an instance of the given type: the
// spec's AMI when it names one, else a Ref to the default image parameter of
// the instance's architecture, which it declares on first use.
func (b *builder) imageFor(instanceType string) any {
	if b.c.HeadNode.AMI != "" {
		return b.c.HeadNode.AMI
	}
	id, path := "X86ImageId", al2023X86SSM
	if archOf(instanceType) == archArm64 {
		id, path = "Arm64ImageId", al2023Arm64SSM
	}
	b.addParameter(id, parameter{
		Type:        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
		Default:     path,
		Description: "SSM parameter naming the image of nodes without a custom AMI",
	})
	return ref(id)
}
