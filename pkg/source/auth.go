package source

import "github.com/go-git/go-git/v5/plumbing/transport"

// auth returns the credentials for the remote, or nil for none.
func (g *Git) auth() (transport.AuthMethod, error) {
	return nil, nil
}
