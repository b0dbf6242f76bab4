package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/middleware"
)

// Defaults for the zero values of Config. They bound what one call can
// cost when AWS (or the emulator) is gone: about MaxAttempts × DialTimeout
// plus the backoffs, seconds rather than minutes.
const (
	DefaultMaxAttempts    = 4
	DefaultMaxBackoff     = 5 * time.Second
	DefaultDialTimeout    = 5 * time.Second
	DefaultAttemptTimeout = 30 * time.Second
)

// The static credentials used against an emulator when the environment
// names none; moto accepts any.
const (
	emulatorAccessKeyID     = "testing"
	emulatorSecretAccessKey = "testing"
)

// Config says how to reach AWS. Only Region is needed against AWS itself;
// the zero value of every other field takes its default.
type Config struct {
	// Region is the AWS region; empty takes it from the environment
	// (AWS_REGION) or the shared config file.
	Region string
	// Endpoint overrides the base endpoint of every service, e.g.
	// http://127.0.0.1:5000 for moto. With it set and no credentials in
	// the environment, static test credentials are used.
	Endpoint string
	// Profile selects a shared config profile; empty uses the default
	// chain.
	Profile string
	// MaxAttempts bounds the attempts of one call, first try included.
	MaxAttempts int
	// MaxBackoff bounds the wait between two attempts.
	MaxBackoff time.Duration
	// DialTimeout bounds opening a connection, so an endpoint that drops
	// packets fails as fast as one that refuses them.
	DialTimeout time.Duration
	// AttemptTimeout bounds one HTTP attempt, response body included.
	AttemptTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	return c
}

// Clients are the SDK clients the daemon uses, all built from one
// configuration and sharing its retryer settings and recorder.
type Clients struct {
	CFN *cloudformation.Client
	ASG *autoscaling.Client
	EC2 *ec2.Client
	// SSM reads the public parameters naming the newest image of a base
	// OS, which apply resolves when it creates a stack.
	SSM *ssm.Client
}

// New builds the clients. rec may be nil; calls are then not recorded, but
// unreachable endpoints still produce an *UnreachableError.
func New(ctx context.Context, cfg Config, rec *Recorder) (*Clients, error) {
	awsCfg, err := Load(ctx, cfg, rec)
	if err != nil {
		return nil, err
	}
	return &Clients{
		CFN: cloudformation.NewFromConfig(awsCfg),
		ASG: autoscaling.NewFromConfig(awsCfg),
		EC2: ec2.NewFromConfig(awsCfg),
		SSM: ssm.NewFromConfig(awsCfg),
	}, nil
}

// Load returns the aws.Config that New builds its clients from, for a
// service that Clients does not hold.
func Load(ctx context.Context, cfg Config, rec *Recorder) (aws.Config, error) {
	cfg = cfg.withDefaults()
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = cfg.DialTimeout }).
		WithTimeout(cfg.AttemptTimeout)

	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = cfg.MaxAttempts
					so.MaxBackoff = cfg.MaxBackoff
				})
			})
		}),
		config.WithAPIOptions([]func(*middleware.Stack) error{rec.addTo}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
		if cfg.Profile == "" && !credentialsInEnv() {
			opts = append(opts, config.WithCredentialsProvider(
				credentials.NewStaticCredentialsProvider(emulatorAccessKeyID, emulatorSecretAccessKey, "")))
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, errors.New("load aws config: no region: set it in the configuration or AWS_REGION")
	}
	return awsCfg, nil
}

// credentialsInEnv reports whether the environment names credentials the
// SDK's default chain would find without asking the instance metadata
// service, which is absent next to an emulator and slow to time out.
func credentialsInEnv() bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}
