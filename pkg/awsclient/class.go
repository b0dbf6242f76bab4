package awsclient

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class is a coarse kind of AWS error, few enough to be a metric label and
// enough to tell an operator where to look.
type Class string

// The error classes.
const (
	// ClassThrottle: AWS asked us to slow down.
	ClassThrottle Class = "throttle"
	// Class5xx: AWS failed on its side.
	Class5xx Class = "5xx"
	// ClassDenied: credentials or IAM policy refused the call.
	ClassDenied Class = "denied"
	// ClassNetwork: no answer at all; the endpoint is unreachable.
	ClassNetwork Class = "network"
	// ClassCanceled: the caller's context ended the call.
	ClassCanceled Class = "canceled"
	// ClassOther: everything else, mostly validation errors.
	ClassOther Class = "other"
)

// deniedCodes are the error codes of the services we call for a refused
// identity or permission.
var deniedCodes = map[string]bool{
	"AccessDenied":                true,
	"AccessDeniedException":       true,
	"UnauthorizedOperation":       true,
	"AuthFailure":                 true,
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"SignatureDoesNotMatch":       true,
	"IncompleteSignature":         true,
	"MissingAuthenticationToken":  true,
}

// ClassOf classifies an error returned by an SDK client. nil has no class.
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return ClassThrottle
	}
	var api smithy.APIError
	if errors.As(err, &api) && deniedCodes[api.ErrorCode()] {
		return ClassDenied
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code >= 500:
			return Class5xx
		case code == http.StatusForbidden || code == http.StatusUnauthorized:
			return ClassDenied
		case code == http.StatusTooManyRequests:
			return ClassThrottle
		}
	}
	// An attempt that timed out also matches context.DeadlineExceeded
	// (net/http's timeout error says so), but it is the endpoint that did
	// not answer, so the send error is checked first.
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return ClassNetwork
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ClassCanceled
	}
	return ClassOther
}
