package render

import "github.com/driftless/driftless/pkg/spec"

// Tags every stack of ours carries. They are how the daemon recognises its
// own stacks and what they were made from, without a local database.
const (
	TagCluster  = "driftless:cluster"
	TagRevision = "driftless:revision"
	TagSpecHash = "driftless:spec-hash"
)

// Stack is a rendered cluster: what CreateStack or UpdateStack needs.
type Stack struct {
	// Cluster is the cluster's name.
	Cluster string
	// Name is the CloudFormation stack name.
	Name string
	// Template is the template body; the same spec gives the same bytes.
	Template []byte
	// Hash is the hex SHA-256 of Template.
	Hash string
	// Tags are the stack tags to set (user tags and TagCluster); the
	// revision and hash tags are added by apply.
	Tags map[string]string
	// Groups are the compute Auto Scaling groups the template declares.
	Groups []Group
	// TerminationProtection is the stack setting of the same name, from
	// the spec's policy; templates cannot carry it, so apply sets it.
	TerminationProtection bool
	// Images are the template's image parameters, sorted by name; none
	// when the spec names its AMI. Every create and update must give each
	// a value (apply does).
	Images []ImageParameter
}

// Group is one compute Auto Scaling group of a rendered stack.
type Group struct {
	Name    string
	Queue   string
	Min     int
	Max     int
	Initial int
}

// StackName is the CloudFormation stack name of a cluster.
func StackName(cluster string) string { return "driftless-" + cluster }

// Render turns a validated cluster into a stack.
func Render(c *spec.Cluster) (*Stack, error) { return render(c) }
