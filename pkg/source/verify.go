package source

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// UntrustedError reports a branch head that is unsigned or not signed by a
// trusted key. It is returned in place of a snapshot: the caller keeps the
// last revision it applied, and reports the refused one.
type UntrustedError struct {
	// Revision is the refused commit.
	Revision string
	// Reason says why, in a few words: "unsigned", or why the signature
	// did not verify.
	Reason string
	// Err is the verification error, if there was one.
	Err error
}

// Error implements error.
func (e *UntrustedError) Error() string {
	return fmt.Sprintf("revision %s is not trusted: %s", e.Revision, e.Reason)
}

// Unwrap returns the verification error.
func (e *UntrustedError) Unwrap() error { return e.Err }

// verify refuses a commit that is not signed by a key of the trusted key
// file. Without a trusted key file every commit is accepted.
func (g *Git) verify(c *object.Commit) error {
	if g.cfg.TrustedKeysFile == "" {
		return nil
	}
	ring, err := trustedKeys(g.cfg.TrustedKeysFile)
	if err != nil {
		return err
	}
	rev := c.Hash.String()
	if c.PGPSignature == "" {
		return &UntrustedError{Revision: rev, Reason: "unsigned"}
	}
	signer, err := c.Verify(ring)
	if err != nil {
		return &UntrustedError{Revision: rev, Reason: "signature does not verify with a trusted key: " + err.Error(), Err: err}
	}
	g.log.Debug("signature verified", "revision", rev, "key", keyID(signer))
	return nil
}

// trustedKeys reads an armored key ring and checks it holds at least one
// key: an empty or unreadable file is a configuration error, never "trust
// everything".
func trustedKeys(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read trusted keys: %w", err)
	}
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("trusted keys %s: %w", file, err)
	}
	if len(ring) == 0 {
		return "", fmt.Errorf("trusted keys %s: no keys", file)
	}
	return string(b), nil
}

func keyID(e *openpgp.Entity) string {
	if e == nil || e.PrimaryKey == nil {
		return ""
	}
	return e.PrimaryKey.KeyIdString()
}
