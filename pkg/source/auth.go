package source

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultHTTPUser is the user name sent with a password or token when
// GitConfig.Username is empty. GitHub accepts any user name with a token;
// GitLab wants "oauth2" for OAuth tokens and the token's name or any name
// for personal and deploy tokens.
const DefaultHTTPUser = "git"

// sshDialTimeout bounds the TCP connect and SSH handshake, which go-git does
// not tie to the fetch's context.
const sshDialTimeout = 30 * time.Second

// transportKind is how the URL is reached, which decides the credentials.
type transportKind int

const (
	kindLocal transportKind = iota
	kindHTTP
	kindSSH
	kindGit
)

func kindOf(u string) transportKind {
	switch {
	case strings.HasPrefix(u, "http://"), strings.HasPrefix(u, "https://"):
		return kindHTTP
	case strings.HasPrefix(u, "ssh://"):
		return kindSSH
	case strings.HasPrefix(u, "git://"):
		return kindGit
	case strings.HasPrefix(u, "file://"), isLocalPath(u):
		return kindLocal
	default:
		return kindSSH // scp-like user@host:path
	}
}

// checkAuth rejects credential settings that cannot apply to the URL, so a
// typo is found at start-up rather than as a puzzling 401 later.
func checkAuth(cfg GitConfig, kind transportKind) error {
	if cfg.PasswordFile != "" && cfg.PasswordEnv != "" {
		return errors.New("set one of password file and password environment variable, not both")
	}
	if cfg.SSHKeyPassphraseFile != "" && cfg.SSHKeyPassphraseEnv != "" {
		return errors.New("set one of SSH key passphrase file and environment variable, not both")
	}
	if cfg.CAFile != "" && !strings.HasPrefix(cfg.URL, "https://") {
		return errors.New("a CA file applies to https:// URLs only")
	}
	password := cfg.PasswordFile != "" || cfg.PasswordEnv != ""
	sshOnly := cfg.SSHKeyFile != "" || cfg.KnownHostsFile != "" || cfg.InsecureIgnoreHostKey ||
		cfg.SSHKeyPassphraseFile != "" || cfg.SSHKeyPassphraseEnv != ""
	switch kind {
	case kindHTTP:
		if sshOnly {
			return errors.New("SSH key and known_hosts settings need an ssh:// or user@host:path URL")
		}
		if cfg.Username != "" && !password {
			return errors.New("a user name needs a password file or environment variable")
		}
	case kindSSH:
		if password || cfg.Username != "" {
			return errors.New("user name and password apply to http(s) URLs only; put the SSH user in the URL")
		}
		if cfg.SSHKeyFile == "" {
			return errors.New("an SSH URL needs an SSH key file")
		}
		if cfg.KnownHostsFile == "" && !cfg.InsecureIgnoreHostKey {
			return errors.New("an SSH URL needs a known_hosts file (or, for a test bed only, insecure host key checking switched off)")
		}
		if cfg.KnownHostsFile != "" && cfg.InsecureIgnoreHostKey {
			return errors.New("set one of known_hosts file and insecure host key checking, not both")
		}
	default:
		if password || sshOnly || cfg.Username != "" {
			return errors.New("credentials apply to http(s) and SSH URLs only")
		}
	}
	return nil
}

// auth returns the credentials for the remote, or nil for none. Secrets are
// read on every call, so a rotated token or key is picked up without a
// restart, and are never logged.
func (g *Git) auth() (transport.AuthMethod, error) {
	switch g.kind {
	case kindHTTP:
		if g.cfg.PasswordFile == "" && g.cfg.PasswordEnv == "" {
			return nil, nil
		}
		pw, err := secret("password", g.cfg.PasswordFile, g.cfg.PasswordEnv)
		if err != nil {
			return nil, err
		}
		user := g.cfg.Username
		if user == "" {
			user = DefaultHTTPUser
		}
		return &githttp.BasicAuth{Username: user, Password: pw}, nil
	case kindSSH:
		return g.sshAuth()
	}
	return nil, nil
}

func (g *Git) sshAuth() (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(g.url)
	if err != nil {
		return nil, fmt.Errorf("parse ssh url: %w", err)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	pem, err := os.ReadFile(g.cfg.SSHKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read ssh key: %w", err)
	}
	var passphrase string
	if g.cfg.SSHKeyPassphraseFile != "" || g.cfg.SSHKeyPassphraseEnv != "" {
		if passphrase, err = secret("ssh key passphrase", g.cfg.SSHKeyPassphraseFile, g.cfg.SSHKeyPassphraseEnv); err != nil {
			return nil, err
		}
	}
	keys, err := gitssh.NewPublicKeys(user, pem, passphrase)
	if err != nil {
		// The parser's message never quotes the key.
		return nil, fmt.Errorf("ssh key %s: %w", g.cfg.SSHKeyFile, err)
	}
	if g.cfg.InsecureIgnoreHostKey {
		keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		return &sshAuth{PublicKeys: keys}, nil
	}

	port := ep.Port
	if port == 0 {
		port = 22
	}
	addr := net.JoinHostPort(ep.Host, strconv.Itoa(port))
	if _, err := os.Stat(g.cfg.KnownHostsFile); err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	db, err := gitssh.NewKnownHostsDb(g.cfg.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", g.cfg.KnownHostsFile, err)
	}
	check := db.HostKeyCallback()
	file := g.cfg.KnownHostsFile
	keys.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			if len(ke.Want) == 0 {
				return fmt.Errorf("host key %s of %s is not in known_hosts file %s", ssh.FingerprintSHA256(key), host, file)
			}
			return fmt.Errorf("host key %s of %s does not match known_hosts file %s: the server changed its key or the connection is intercepted", ssh.FingerprintSHA256(key), host, file)
		}
		return err
	}
	keys.HostKeyAlgorithms = db.HostKeyAlgorithms(addr)
	return &sshAuth{PublicKeys: keys}, nil
}

// caBundle reads the extra certificate authorities, if any.
func (g *Git) caBundle() ([]byte, error) {
	if g.cfg.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(g.cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	return b, nil
}

// sshAuth bounds the SSH dial, which go-git does not tie to a context.
type sshAuth struct {
	*gitssh.PublicKeys
}

// ClientConfig implements go-git's ssh.AuthMethod.
func (a *sshAuth) ClientConfig() (*ssh.ClientConfig, error) {
	c, err := a.PublicKeys.ClientConfig()
	if err != nil {
		return nil, err
	}
	c.Timeout = sshDialTimeout
	return c, nil
}

// secret reads a secret from a file or an environment variable. Surrounding
// white space (the newline an editor adds) is dropped; an empty secret is an
// error, since it is never what was meant.
func secret(what, file, env string) (string, error) {
	var v string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", what, err)
		}
		v = strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s file %s is empty", what, file)
		}
	case env != "":
		v = strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", fmt.Errorf("%s environment variable %s is empty or unset", what, env)
		}
	}
	return v, nil
}
