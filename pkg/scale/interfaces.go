package scale

import (
	"context"
	"io"
)

// Scheduler is what the loop needs from a cluster's job scheduler: one
// consistent look at nodes and jobs, and the three node operations of a
// safe scale-down. Adapters live in the subpackages slurm, sge and torque.
type Scheduler interface {
	// Snapshot reads every node and every pending or running job.
	Snapshot(ctx context.Context) (State, error)
	// Drain stops new work from landing on the node; running jobs go on.
	Drain(ctx context.Context, node, reason string) error
	// Resume returns a drained node to service.
	Resume(ctx context.Context, node string) error
	// Remove tells the scheduler the node's instance is gone.
	Remove(ctx context.Context, node string) error
}

// Fleet is what the loop needs from Auto Scaling. The implementation over
// the AWS SDK is in the subpackage asgfleet.
type Fleet interface {
	// Group describes one group with its instances.
	Group(ctx context.Context, name string) (Group, error)
	// SetDesiredCapacity sets the group's desired capacity.
	SetDesiredCapacity(ctx context.Context, group string, n int) error
	// Terminate terminates one instance of a group; with decrement the
	// group's desired capacity drops by one, without it the group
	// launches a replacement.
	Terminate(ctx context.Context, instanceID string, decrement bool) error
}

// Runner runs one command on the machine where the scheduler's client
// programs live (the head node) and returns its standard output. Adapters
// pass the program and its arguments separately; a Runner never hands them
// to a shell unquoted. Implementations are in the subpackage remote.
type Runner interface {
	Run(ctx context.Context, stdin io.Reader, name string, args ...string) ([]byte, error)
}
