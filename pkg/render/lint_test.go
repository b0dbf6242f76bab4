package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvCfnLint names the environment variable that points at a cfn-lint
// binary. Without it the test looks for the one scripts/moto.sh install
// puts in the module's .venv.
const envCfnLint = "DRIFTLESS_CFN_LINT"

// cfnLint returns the cfn-lint binary to run, or skips the test saying how
// to provide one.
func cfnLint(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envCfnLint); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("$%s=%s: %v", envCfnLint, p, err)
		}
		return p
	}
	if p, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "cfn-lint")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("cfn-lint not installed: set $%s to a cfn-lint binary or run scripts/moto.sh install", envCfnLint)
	return ""
}

// TestCfnLint runs cfn-lint over every golden template and over freshly
// rendered ones, and fails on any finding: a template CloudFormation would
// reject must not reach a stack.
func TestCfnLint(t *testing.T) {
	bin := cfnLint(t)
	dir := t.TempDir()
	var files []string
	for _, tc := range goldenCases() {
		st, err := Render(tc.cluster())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p := filepath.Join(dir, tc.name+".template.json")
		if err := os.WriteFile(p, st.Template, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	golden, err := filepath.Glob(filepath.Join("testdata", "*.template.json"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, golden...)
	args := append([]string{"--regions", "us-east-1", "--"}, files...)
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint %s: %v\n%s", bin, err, out)
	}
}
