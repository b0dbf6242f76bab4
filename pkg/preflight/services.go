package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// fileSystem checks an existing EFS file system.
func (r *run) fileSystem(ctx context.Context, api EFS) {
	e := r.c.Storage.EFS
	if e == nil || e.FileSystem == "" {
		return
	}
	if api == nil {
		r.error("check storage.efs.fileSystem", errors.New("no EFS client"))
		return
	}
	out, err := api.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{FileSystemId: &e.FileSystem})
	if apiCode(err) == "FileSystemNotFound" {
		r.fail("storage.efs.fileSystem", "file system %s does not exist in %s", e.FileSystem, r.region)
		return
	}
	if err != nil {
		r.error("describe file system "+e.FileSystem, err)
		return
	}
	for _, fs := range out.FileSystems {
		if aws.ToString(fs.FileSystemId) != e.FileSystem {
			continue
		}
		if fs.LifeCycleState != efstypes.LifeCycleStateAvailable {
			r.fail("storage.efs.fileSystem", "file system %s is %s; only an available file system can be mounted", e.FileSystem, fs.LifeCycleState)
		}
		return
	}
	r.fail("storage.efs.fileSystem", "file system %s does not exist in %s", e.FileSystem, r.region)
}

// iam checks the existing role and the managed policies the spec names.
// IAM has no batch read: one call per role or policy, and a spec names at
// most a handful.
func (r *run) iam(ctx context.Context, api IAM) {
	p := r.c.IAM
	if p.Role == "" && len(p.Policies) == 0 {
		return
	}
	if api == nil {
		r.error("check iam", errors.New("no IAM client"))
		return
	}
	if p.Role != "" {
		name := roleName(p.Role)
		_, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
		switch {
		case apiCode(err) == "NoSuchEntity":
			r.fail("iam.role", "IAM role %s does not exist", name)
		case err != nil:
			r.error("get IAM role "+name, err)
		}
	}
	for j, arn := range p.Policies {
		_, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		switch {
		case apiCode(err) == "NoSuchEntity":
			r.fail(fmt.Sprintf("iam.policies[%d]", j), "IAM policy %s does not exist", arn)
		case err != nil:
			r.error("get IAM policy "+arn, err)
		}
	}
}

// roleName is the name of a role given by name or ARN
// (arn:aws:iam::123456789012:role/path/name).
func roleName(role string) string {
	if !strings.HasPrefix(role, "arn:") {
		return role
	}
	return role[strings.LastIndex(role, "/")+1:]
}
