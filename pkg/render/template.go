package render

import (
	"errors"

	"github.com/driftless/driftless/pkg/spec"
)

// placeholder until the renderer lands.
func render(c *spec.Cluster) (*Stack, error) { return nil, errors.New("renderer not written yet") }
