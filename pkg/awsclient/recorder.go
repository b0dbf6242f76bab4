package awsclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Call is one SDK operation as the recorder saw it, after all its retries.
type Call struct {
	// Service is the SDK's service ID ("CloudFormation", "Auto Scaling").
	Service string
	// Operation is the API name ("CreateStack").
	Operation string
	// Input is the operation's input struct, e.g.
	// *cloudformation.CreateStackInput; tests inspect it to count the
	// mutating calls per stack.
	Input any
	// Err is the error the caller received, nil on success.
	Err error
	// Class is Err's class; empty on success.
	Class Class
	// Attempts is how many HTTP attempts were made; 0 when the call failed
	// before sending anything (e.g. input validation).
	Attempts int
	// Duration is the time spent in the call, retries and backoffs
	// included.
	Duration time.Duration
}

// Recorder sees every call of every client built with it: it counts them
// in Metrics, logs them at Debug and hands them to OnCall. The zero value
// and a nil *Recorder record nothing.
type Recorder struct {
	// Metrics, if set, counts calls, errors and retries.
	Metrics *Metrics
	// Log, if set, gets one Debug line per call; errors are the caller's
	// to log, once, where they are handled.
	Log *slog.Logger
	// OnCall, if set, is called after every call. It must be safe for
	// concurrent use.
	OnCall func(Call)
}

const middlewareID = "driftless/recorder"

// addTo puts the recorder in the Initialize step, ahead of input
// validation and the retry loop (which runs in Finalize), so it sees each
// call once, with all its attempts.
func (r *Recorder) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc(middlewareID, r.handle), middleware.Before)
}

func (r *Recorder) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error,
) {
	start := time.Now()
	out, md, err := next.HandleInitialize(ctx, in)
	c := Call{
		// Clients generated since 2025 (Batch, ECS, CloudWatch Logs) put
		// the names in smithy's context keys only.
		Service:   cmp.Or(awsmiddleware.GetServiceID(ctx), middleware.GetServiceID(ctx)),
		Operation: cmp.Or(awsmiddleware.GetOperationName(ctx), middleware.GetOperationName(ctx)),
		Input:     in.Parameters,
		Duration:  time.Since(start),
	}
	if res, ok := retry.GetAttemptResults(md); ok {
		c.Attempts = len(res.Results)
	}
	if err != nil {
		c.Class = ClassOf(err)
		if ctx.Err() != nil {
			c.Class = ClassCanceled
		}
		if c.Class == ClassNetwork {
			err = unreachable(err, c.Attempts)
		}
		c.Err = err
	}
	r.record(ctx, c)
	return out, md, err
}

func (r *Recorder) record(ctx context.Context, c Call) {
	if r == nil {
		return
	}
	if r.Metrics != nil {
		r.Metrics.observe(c)
	}
	if r.Log != nil && r.Log.Enabled(ctx, slog.LevelDebug) {
		attrs := []any{"service", c.Service, "operation", c.Operation, "attempts", c.Attempts, "duration", c.Duration}
		if c.Err != nil {
			attrs = append(attrs, "class", string(c.Class), "err", c.Err)
		}
		r.Log.DebugContext(ctx, "aws call", attrs...)
	}
	if r.OnCall != nil {
		r.OnCall(c)
	}
}

// UnreachableError says that no attempt of a call got an answer: the
// endpoint refused, dropped or could not be resolved. The SDK's own message
// buries this under retry and response wrappers; this one says it plainly.
// The SDK's operation error still wraps it, which names the operation.
type UnreachableError struct {
	// URL is the address the last attempt tried, if known.
	URL string
	// Attempts is how many attempts were made.
	Attempts int
	// Err is the SDK's error.
	Err error
}

func (e *UnreachableError) Error() string {
	where := "endpoint"
	if e.URL != "" {
		where += " " + e.URL
	}
	return fmt.Sprintf("%s unreachable after %d attempt(s): %v", where, e.Attempts, rootCause(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func unreachable(err error, attempts int) error {
	e := &UnreachableError{Attempts: attempts, Err: err}
	var ue *url.Error
	if errors.As(err, &ue) {
		e.URL = ue.URL
	}
	return e
}

// rootCause is the transport's own error (dial tcp ...: connection
// refused) without the layers the SDK puts around it.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}
