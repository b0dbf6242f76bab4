package bootstrap

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
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
// for a site's own text: more volumes, longer URLs and arguments.
func TestUserDataRoom(t *testing.T) {
	const room = 384
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

// FuzzSettings checks that a site's text (script arguments, the proxy)
// reaches the shell as the very same words: never a command, never a
// CloudFormation variable, never a character lost.
func FuzzSettings(f *testing.F) {
	for _, s := range []string{"plain", "it's", "${HOME}", "$(touch /x)", "`id`", "a\nb", "${!x}", "\\", "'\"'", "${HeadNode.PrivateIp}", "--x=1 2"} {
		f.Add(s, "http://proxy:3128")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		f.Skip("bash not found")
	}
	f.Fuzz(func(t *testing.T, arg, proxy string) {
		if strings.ContainsRune(arg+proxy, 0) || !utf8.ValidString(arg+proxy) {
			return
		}
		cfg := goldenConfig("slurm", "ubuntu2404", RoleCompute)
		cfg.PreInstall.Args = []string{arg, "second"}
		cfg.Proxy = proxy
		text, err := Render(cfg)
		if err != nil {
			if strings.Contains(err.Error(), "bytes") {
				return // too long for EC2: refused, as it must be
			}
			t.Fatal(err)
		}
		script, err := Resolve(text, map[string]string{"HeadNode.PrivateIp": "10.0.0.10"})
		if err != nil {
			t.Fatalf("the user's text became a variable: %v", err)
		}
		start := strings.Index(script, "\nCLUSTER=")
		end := strings.Index(script, "\nexport PATH=")
		if start < 0 || end < start {
			t.Fatal("no settings block")
		}
		out, err := exec.Command(bash, "-c", script[start:end]+"\nprintf '%s\\0' \"$PROXY\" \"${PRE_INSTALL_ARGS[@]}\"").Output()
		if err != nil {
			t.Fatalf("settings do not run: %v", err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		want := []string{proxy, arg, "second"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}
