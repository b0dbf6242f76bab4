package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// announcementINI is the config from the ParallelCluster launch
// announcement, as the issue quotes it.
const announcementINI = `[aws]
aws_region_name = us-east-1

[cluster default]
vpc_settings = public
key_name = duff_key_us-east-1

[cluster awsbatch]
scheduler = awsbatch
key_name = duff_key_us-east-1
vpc_settings = public

[vpc public]
master_subnet_id = subnet-abcdefghigjlmnop1
vpc_id = vpc-abcdefghigjlmnopq
ssh_from = 11.22.33.44/32

[global]
update_check = true
sanity_check = true
cluster_template = default

[aliases]
ssh = ssh {CFN_USER}@{MASTER_IP} {ARGS}
`

// runCmd runs the program with args and returns its exit code, stdout and
// stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, &stdout, &stderr)
	return exitCode(err, &stderr), stdout.String(), stderr.String()
}

// importAnnouncement imports ini into dir/specs and checks the import
// wrote the two specs, valid, with every note of the config.
func importAnnouncement(t *testing.T, ini string) (specs string) {
	t.Helper()
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "config", ini)
	specs = filepath.Join(dir, "specs")
	code, out, errOut := runCmd(t, "import", cfgFile, "--out", specs)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"wrote " + filepath.Join(specs, "default.yaml") + " (cluster default, valid)",
		"wrote " + filepath.Join(specs, "awsbatch.yaml") + " (cluster awsbatch, valid)",
		"8 notes",
		cfgFile + ":4: [cluster default]: base_os is not set",
		cfgFile + ":8: [cluster awsbatch]: has no ebs_settings",
		cfgFile + ":19: [global] update_check: no Driftless equivalent",
		cfgFile + ":20: [global] sanity_check: no Driftless equivalent: the daemon checks the account before every create and update (reconciler validate --live)",
		cfgFile + ":21: [global] cluster_template: no Driftless equivalent",
		cfgFile + ":24: [aliases] ssh: no Driftless equivalent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	return specs
}

// TestImportAnnouncement: the announcement's config imports into two specs,
// default (SGE) and awsbatch, that validate and render.
func TestImportAnnouncement(t *testing.T) {
	specs := importAnnouncement(t, announcementINI)
	entries, err := os.ReadDir(specs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "awsbatch.yaml default.yaml" {
		t.Fatalf("import wrote %v, want awsbatch.yaml and default.yaml", names)
	}
	for file, want := range map[string][]string{
		"default.yaml":  {"name: default\n", "scheduler: sge\n", "vpc: vpc-abcdefghigjlmnopq\n", "subnet: subnet-abcdefghigjlmnop1\n", "keyPair: duff_key_us-east-1\n", "sshFrom: 11.22.33.44/32\n"},
		"awsbatch.yaml": {"name: awsbatch\n", "scheduler: awsbatch\n", "sshFrom: 11.22.33.44/32\n"},
	} {
		data, err := os.ReadFile(filepath.Join(specs, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !bytes.Contains(data, []byte(w)) {
				t.Errorf("%s lacks %q:\n%s", file, w, data)
			}
		}
	}

	if code, out, errOut := runCmd(t, "validate", specs); code != 0 || !strings.Contains(out, "2 clusters valid") {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
	}
	for _, file := range []string{"default.yaml", "awsbatch.yaml"} {
		code, out, errOut := runCmd(t, "render", filepath.Join(specs, file))
		if code != 0 {
			t.Fatalf("render %s: exit %d\n%s", file, code, errOut)
		}
		var tmpl struct {
			Resources map[string]struct{ Type string }
		}
		if err := json.Unmarshal([]byte(out), &tmpl); err != nil || len(tmpl.Resources) == 0 {
			t.Errorf("render %s: not a template with resources (%v)", file, err)
		}
	}
}

// TestImportNeverOverwrites: an import that would replace a spec writes
// nothing, unless --force.
func TestImportNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "pcluster.ini", announcementINI)
	specs := filepath.Join(dir, "specs")
	mine := writeFile(t, specs, "default.yaml", "# my own spec\n")

	code, _, errOut := runCmd(t, "import", cfgFile, "--out", specs)
	if code != 1 || !strings.Contains(errOut, filepath.Join(specs, "default.yaml")+" already exist; nothing written (--force overwrites them)") {
		t.Errorf("import over an existing spec: exit %d, %q", code, errOut)
	}
	if data, _ := os.ReadFile(mine); string(data) != "# my own spec\n" {
		t.Errorf("the existing spec was changed:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(specs, "awsbatch.yaml")); err == nil {
		t.Error("awsbatch.yaml was written although the import was refused")
	}

	if code, out, errOut := runCmd(t, "import", "--force", cfgFile, "--out", specs); code != 0 {
		t.Fatalf("import --force: exit %d\n%s%s", code, out, errOut)
	}
	if data, _ := os.ReadFile(mine); !bytes.HasPrefix(data, []byte("version: 1\n")) {
		t.Errorf("--force did not replace the spec:\n%s", data)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	notINI := writeFile(t, dir, "notes.txt", "just some text\n")
	noCluster := writeFile(t, dir, "global.ini", "[global]\ncluster_template = default\n")
	twice := writeFile(t, dir, "twice.ini", "[cluster a]\nkey_name = x\nkey_name = y\n")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", []string{"import"}, 2, "import takes one config file"},
		{"two files", []string{"import", notINI, noCluster}, 2, "import takes one config file"},
		{"missing file", []string{"import", filepath.Join(dir, "nope.ini")}, 1, "nope.ini: no such file or directory"},
		{"not an INI file", []string{"import", notINI}, 1, "notes.txt:"},
		{"no cluster section", []string{"import", noCluster}, 1, "no [cluster NAME] section"},
		{"a key given twice", []string{"import", twice}, 1, "twice.ini:"},
		{"bad output", []string{"import", noCluster, "--output", "yaml"}, 2, `--output "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}

func TestImportJSON(t *testing.T) {
	dir := t.TempDir()
	cfgFile := writeFile(t, dir, "pcluster.ini", strings.Replace(announcementINI, "vpc_settings = public\nkey_name", "key_name", 1))
	code, out, errOut := runCmd(t, "import", cfgFile, "--out", filepath.Join(dir, "specs"), "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var doc struct {
		Files   []string `json:"files"`
		Invalid []string `json:"invalidClusters"`
		Notes   []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Section string `json:"section"`
			Key     string `json:"key"`
			Cluster string `json:"cluster"`
			Message string `json:"message"`
		} `json:"notes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(doc.Files) != 2 || strings.Join(doc.Invalid, ",") != "default" {
		t.Errorf("files %v, invalid %v; want two files and default invalid (no vpc_settings)", doc.Files, doc.Invalid)
	}
	found := false
	for _, n := range doc.Notes {
		if n.Key == "sanity_check" && n.Line == 19 && n.Section == "global" {
			found = true
		}
	}
	if !found {
		t.Errorf("no note on [global] sanity_check at line 19: %+v", doc.Notes)
	}
}
