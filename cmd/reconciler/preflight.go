package main

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/driftless/driftless/pkg/awsclient"
	"github.com/driftless/driftless/pkg/preflight"
	"github.com/driftless/driftless/pkg/spec"
)

// newChecker builds the pre-flight checker for the account and region of
// the aws section of a config; the zero AWSConfig takes the region and
// credentials from the environment, as the AWS CLI does. rec and m may be
// nil.
func newChecker(ctx context.Context, cfg AWSConfig, rec *awsclient.Recorder, m *preflight.Metrics) (*preflight.Checker, error) {
	awsCfg, err := awsclient.Load(ctx, awsclient.Config{Region: cfg.Region, Endpoint: cfg.Endpoint}, rec)
	if err != nil {
		return nil, fmt.Errorf("AWS clients for the pre-flight checks: %w", err)
	}
	return &preflight.Checker{
		EC2:     ec2.NewFromConfig(awsCfg),
		EFS:     efs.NewFromConfig(awsCfg),
		IAM:     iam.NewFromConfig(awsCfg),
		Region:  awsCfg.Region,
		Metrics: m,
	}, nil
}

// checkLive runs the pre-flight checks of validate --live on every valid
// cluster and returns the failures by file. A check that could not run is
// an error of its file; AWS not answering at all ends the run, since no
// other cluster could be checked either.
func checkLive(ctx context.Context, configPath string, clusters []*spec.Cluster, skip map[string]spec.Errors) (map[string]spec.Errors, *preflight.Checker, error) {
	var aws AWSConfig
	if configPath != "" {
		cfg, err := loadConfig(configPath)
		if err != nil {
			return nil, nil, err
		}
		aws = cfg.AWS
	}
	ch, err := newChecker(ctx, aws, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	sorted := append([]*spec.Cluster(nil), clusters...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].File < sorted[j].File })
	failed := make(map[string]spec.Errors)
	for _, c := range sorted {
		if _, bad := skip[c.File]; bad {
			continue
		}
		fails, err := ch.Check(ctx, c)
		var ue *awsclient.UnreachableError
		if errors.As(err, &ue) || ctx.Err() != nil {
			return nil, nil, err
		}
		if err != nil {
			fails = append(fails, spec.Error{File: c.File, Msg: err.Error()})
		}
		if len(fails) > 0 {
			failed[c.File] = fails
		}
	}
	return failed, ch, nil
}
