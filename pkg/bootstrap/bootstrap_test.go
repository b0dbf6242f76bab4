package bootstrap

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenConfig is the cluster of the golden files: every feature a script
// can have, so each branch of the templates is rendered somewhere.
func goldenConfig(sched, osName string, role Role) Config {
	cfg := Config{
		Cluster: "alpha", Stack: "driftless-alpha", Region: "us-east-1",
		Scheduler: sched, OS: osName, Role: role, LoginUser: "hpc",
		Proxy:       "http://proxy.example.com:3128",
		PreInstall:  &Script{URL: "s3://site-bootstrap/pre.sh", Args: []string{"--site", "it's ${HOME}"}},
		PostInstall: &Script{URL: "https://example.com/post.sh"},
	}
	if role == RoleHead {
		cfg.Queues = []string{"compute"}
		cfg.HeadParameter = "/driftless/alpha/head-node"
		cfg.ExportTo = ExportVPC
		cfg.WaitHandle = Value{Sub: "HeadNodeWaitHandle"}
		cfg.Mounts = []Mount{
			{Dir: "/shared", Type: MountEBS, Devices: []string{"/dev/sdf"}},
			{Dir: "/raid", Type: MountRAID, Devices: []string{"/dev/sdk", "/dev/sdl"}},
			{Dir: "/efs", Type: MountEFS, FileSystem: Value{Sub: "SharedFileSystem"}},
		}
	} else {
		cfg.Queue = "compute"
		cfg.HeadAddress = Value{Sub: "HeadNode.PrivateIp"}
		cfg.Mounts = []Mount{
			{Dir: "/shared", Type: MountNFS},
			{Dir: "/raid", Type: MountNFS},
			{Dir: "/efs", Type: MountEFS, FileSystem: Value{Text: "fs-0123456789abcdef0"}},
		}
	}
	return cfg
}

var schedulers = []string{"slurm", "sge", "torque"}

func TestGolden(t *testing.T) {
	for _, sched := range schedulers {
		for _, osName := range Current() {
			for _, role := range []Role{RoleHead, RoleCompute} {
				name := fmt.Sprintf("%s-%s-%s.sh", sched, osName, role)
				t.Run(name, func(t *testing.T) {
					got, err := Render(goldenConfig(sched, osName, role))
					if err != nil {
						t.Fatal(err)
					}
					path := filepath.Join("testdata", name)
					if *update {
						if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test ./pkg/bootstrap -update)", err)
					}
					if got != string(want) {
						t.Errorf("%s differs from the rendered script; run go test ./pkg/bootstrap -update and review the diff", path)
					}
				})
			}
		}
	}
}

// resolved renders cfg and substitutes the variables as CloudFormation
// would, giving the script an instance runs.
func resolved(t *testing.T, cfg Config) string {
	t.Helper()
	text, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Resolve(text, map[string]string{
		"HeadNode.PrivateIp": "10.0.0.10",
		"HeadNodeWaitHandle": "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/arn%3Aaws?X-Amz-Signature=abc&x=1",
		"SharedFileSystem":   "fs-0123456789abcdef0",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shellcheck returns the shellcheck binary, or skips (fails under CI).
func shellcheck(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck not found; scripts/ci-deps.sh installs it")
		}
		t.Skip("shellcheck not found; install it (apt-get install shellcheck, or scripts/ci-deps.sh)")
	}
	return p
}

// TestShellcheck runs shellcheck on every script every OS, scheduler and
// role renders to, as an instance would receive it.
func TestShellcheck(t *testing.T) {
	bin := shellcheck(t)
	dir := t.TempDir()
	var files []string
	for _, sched := range schedulers {
		for _, osName := range OSes() {
			for _, role := range []Role{RoleHead, RoleCompute} {
				for _, minimal := range []bool{false, true} {
					if minimal && osName != "ubuntu2404" {
						continue // the minimal scripts differ little per OS
					}
					cfg := goldenConfig(sched, osName, role)
					if minimal {
						cfg.Proxy, cfg.PreInstall, cfg.PostInstall, cfg.Mounts = "", nil, nil, nil
						cfg.ExportTo = ExportSubnet
					}
					f := filepath.Join(dir, fmt.Sprintf("%s-%s-%s-%v.sh", sched, osName, role, minimal))
					if err := os.WriteFile(f, []byte(resolved(t, cfg)), 0o644); err != nil {
						t.Fatal(err)
					}
					files = append(files, f)
				}
			}
		}
	}
	out, err := exec.Command(bin, append([]string{"-s", "bash", "-S", "style", "-f", "gcc"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, strings.ReplaceAll(string(out), dir+"/", ""))
	}
}

// TestUserDataRoom keeps room in the largest script (every feature on)
// for a site's own text: longer URLs, arguments, a proxy.
func TestUserDataRoom(t *testing.T) {
	const room = 512
	for _, sched := range schedulers {
		for _, osName := range OSes() {
			cfg := goldenConfig(sched, osName, RoleHead)
			text, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			n := resolvedSize(text, map[string]int{"HeadNodeWaitHandle": urlSize, "SharedFileSystem": idSize})
			if n > MaxUserData-room {
				t.Errorf("%s on %s: head node user data is %d bytes, leaving less than %d of EC2's %d", sched, osName, n, room, MaxUserData)
			}
		}
	}
}
