package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/driftless/driftless/pkg/scale"
)

// REST reads Slurm through slurmrestd with a JWT (AuthAltTypes=auth/jwt).
// Serve slurmrestd over TLS (behind a proxy) or on a private address: the
// token is a bearer credential.
type REST struct {
	// BaseURL is slurmrestd's address, e.g. http://head:6820.
	BaseURL string
	// Version is the OpenAPI plugin's version, e.g. v0.0.38 (Slurm 22.05)
	// or v0.0.40 (Slurm 23.11).
	Version string
	// User and Token go into X-SLURM-USER-NAME and X-SLURM-USER-TOKEN.
	User, Token string
	// Client defaults to http.DefaultClient.
	Client *http.Client
}

// maxAnswer bounds how much of one answer is read.
const maxAnswer = 64 << 20

func (r *REST) minor() int {
	v := strings.TrimPrefix(r.Version, "v")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[2])
	return n
}

// canUpdate reports whether the API has the node update endpoint, which
// v0.0.38 (Slurm 22.05) lacks.
func (r *REST) canUpdate() bool { return r.minor() >= 39 }

func (r *REST) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimRight(r.BaseURL, "/") + "/slurm/" + r.Version + "/" + path
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-SLURM-USER-NAME", r.User)
	req.Header.Set("X-SLURM-USER-TOKEN", r.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("slurmrestd %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("slurmrestd %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		// slurmrestd answers 401 without a token and 500 with a bad one.
		var doc struct {
			Errors []apiError `json:"errors"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &doc) == nil {
			if err := checkErrors(doc.Errors); err != nil {
				msg = err.Error()
			}
		}
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, fmt.Errorf("slurmrestd %s %s: %s: %s", method, path, resp.Status, msg)
	}
	return b, nil
}

// Snapshot reads nodes and jobs.
func (r *REST) Snapshot(ctx context.Context) (scale.State, error) {
	b, err := r.do(ctx, http.MethodGet, "nodes", nil)
	if err != nil {
		return scale.State{}, err
	}
	nodes, err := ParseNodes(b)
	if err != nil {
		return scale.State{}, err
	}
	b, err = r.do(ctx, http.MethodGet, "jobs", nil)
	if err != nil {
		return scale.State{}, err
	}
	jobs, err := ParseJobs(b)
	if err != nil {
		return scale.State{}, err
	}
	return scale.State{Nodes: nodes, Jobs: jobs}, nil
}

func (r *REST) updateNode(ctx context.Context, node, state, reason string) error {
	body := map[string]any{"state": []string{state}}
	if reason != "" {
		body["reason"] = reason
	}
	_, err := r.do(ctx, http.MethodPost, "node/"+url.PathEscape(node), body)
	return err
}

func (r *REST) deleteNode(ctx context.Context, node string) error {
	_, err := r.do(ctx, http.MethodDelete, "node/"+url.PathEscape(node), nil)
	return err
}
