package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportINIGolden imports each config in testdata/import and compares
// the specs Marshal writes and the notes with the golden file.
func TestImportINIGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/import/*.ini")
	if len(files) == 0 {
		t.Fatal("no configs in testdata/import")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			clusters, notes, err := ImportINI(filepath.Base(file), data)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, c := range clusters {
				out, err := Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "--- %s.yaml\n%s", c.Name, out)
			}
			b.WriteString("--- notes\n")
			for _, n := range notes {
				b.WriteString(n.String() + "\n")
			}
			golden(t, strings.TrimSuffix(file, ".ini")+".golden", []byte(b.String()))
		})
	}
}

// TestImportAnnouncement is the config of the ParallelCluster launch
// announcement: it must give two specs that validate.
func TestImportAnnouncement(t *testing.T) {
	data, err := os.ReadFile("testdata/import/announcement.ini")
	if err != nil {
		t.Fatal(err)
	}
	clusters, notes, err := ImportINI("pcluster.ini", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if strings.Contains(n.Msg, "not valid") {
			t.Errorf("note: %s", n)
		}
	}
	var got []string
	for _, c := range clusters {
		out, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		p, errs := Parse(c.Name+".yaml", out)
		if errs != nil {
			t.Fatalf("%s does not validate:\n%v\n%s", c.Name, errs, out)
		}
		got = append(got, p.Name+":"+p.Scheduler)
		if p.HeadNode.SSHFrom != "11.22.33.44/32" || p.HeadNode.KeyPair != "duff_key_us-east-1" || p.Region != "us-east-1" {
			t.Errorf("%s: sshFrom %s, keyPair %s, region %s", p.Name, p.HeadNode.SSHFrom, p.HeadNode.KeyPair, p.Region)
		}
		if p.VPC != "vpc-abcdefghigjlmnopq" || p.HeadNode.Subnet != "subnet-abcdefghigjlmnop1" {
			t.Errorf("%s: vpc %s, subnet %s", p.Name, p.VPC, p.HeadNode.Subnet)
		}
	}
	if want := []string{"default:sge", "awsbatch:awsbatch"}; !slices.Equal(got, want) {
		t.Errorf("clusters = %v, want %v", got, want)
	}
	def := clusters[0].Compute
	if len(def) != 1 || *def[0].InitialNodes != 2 || def[0].MaxNodes != 10 || def[0].MinNodes != 0 || def[0].InstanceType != "t2.micro" {
		t.Errorf("default queue = %+v, want ParallelCluster's defaults (t2.micro, initial 2, max 10, min 0)", def)
	}
	if clusters[0].Scaling.IdleTime.Minutes() != 10 {
		t.Errorf("idle time %v, want 10m", clusters[0].Scaling.IdleTime)
	}
}

// TestLegacyTableMatchesImporter checks the table of ParallelCluster
// settings against the importer, with a config that sets every one of
// them: a setting the table maps must be imported without a note that
// drops it, and a setting without an equivalent must get the table's
// reason.
func TestLegacyTableMatchesImporter(t *testing.T) {
	data, err := os.ReadFile("testdata/import/every-setting.ini")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseINI(string(data))
	if err != nil {
		t.Fatal(err)
	}
	_, notes, err := ImportINI("every-setting.ini", data)
	if err != nil {
		t.Fatal(err)
	}
	notesAt := map[int][]string{}
	for _, n := range notes {
		notesAt[n.Line] = append(notesAt[n.Line], n.Msg)
	}
	for _, p := range legacyParams {
		var lines []int
		for _, s := range f.sections {
			if s.kind != p.section {
				continue
			}
			for _, k := range s.keys {
				if k.name == p.key {
					lines = append(lines, k.line)
				}
			}
		}
		if len(lines) == 0 {
			t.Errorf("[%s] %s: every-setting.ini does not set it", p.section, p.key)
			continue
		}
		for _, line := range lines {
			var dropped []string
			for _, msg := range notesAt[line] {
				if strings.HasPrefix(msg, "no Driftless equivalent") || strings.HasPrefix(msg, "not imported") || strings.Contains(msg, "not a ParallelCluster") {
					dropped = append(dropped, msg)
				}
			}
			switch {
			case p.field != "" && len(dropped) > 0:
				t.Errorf("[%s] %s (line %d) maps to %s, but the import dropped it: %v", p.section, p.key, line, p.field, dropped)
			case p.field == "" && !slices.Contains(dropped, "no Driftless equivalent: "+p.how):
				t.Errorf("[%s] %s (line %d) has no equivalent, but the import did not say so: %v", p.section, p.key, line, notesAt[line])
			}
		}
	}
}

func TestImportINIErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"no cluster", "[aws]\naws_region_name = us-east-1\n", "c.ini: no [cluster NAME] section: this is not a ParallelCluster 2.x or CfnCluster config"},
		{"key outside a section", "key_name = x\n[cluster a]\n", "c.ini:line 1: key outside of any section; put it under a [section]"},
		{"section twice", "[cluster a]\n[vpc v]\n[cluster a]\n", "c.ini:line 3: section [cluster a] is already declared on line 1"},
		{"key twice", "[cluster a]\nkey_name = x\nKEY_NAME = y\n", "c.ini:line 3: key key_name is already set in [cluster a] on line 2"},
		{"header without bracket", "[cluster a\n", "c.ini:line 1: section header without ]"},
		{"line without key", "[cluster a]\njust words\n", "c.ini:line 2: expected key = value"},
		{"stray indented line", "[cluster a]\n\n  more\n", "c.ini:line 3: indented line continues no value"},
		{"not UTF-8", "[cluster a]\nkey_name = caf\xe9\n", "c.ini:2:15: file is not UTF-8 text"},
		{"too large", "[cluster a]\n#" + strings.Repeat("x", MaxFileSize), fmt.Sprintf("c.ini: file is %d bytes; a config may hold at most %d", MaxFileSize+13, MaxFileSize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ImportINI("c.ini", []byte(tt.data))
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// minimalINI is a config that imports into a valid spec; cases add to it.
const minimalINI = `[aws]
aws_region_name = eu-west-1
[vpc v]
vpc_id = vpc-0123456789abcdef0
master_subnet_id = subnet-0123456789abcdef0
ssh_from = 192.0.2.0/24
[cluster c]
vpc_settings = v
base_os = alinux2
ebs_settings = NONE
`

func TestImportININotes(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // notes, as Note.String renders them
	}{
		{name: "nothing to say", data: minimalINI},
		{
			name: "no vpc",
			data: strings.Replace(minimalINI, "vpc_settings = v\n", "", 1),
			want: []string{
				"c.ini:3: [vpc v]: no cluster refers to this section; not imported",
				"c.ini:7: [cluster c]: has no vpc_settings; the spec needs vpc, headNode.subnet and headNode.sshFrom",
				"c.ini:7: [cluster c]: the imported spec is not valid yet: vpc: is required",
				"c.ini:7: [cluster c]: the imported spec is not valid yet: headNode.sshFrom: is required; name the addresses allowed to reach the head node over SSH, e.g. 203.0.113.0/24 (0.0.0.0/0 opens it to the internet)",
				"c.ini:7: [cluster c]: the imported spec is not valid yet: headNode.subnet: is required",
			},
		},
		{
			name: "missing section",
			data: minimalINI + "scaling_settings = quick\n",
			want: []string{"c.ini:11: [cluster c] scaling_settings: refers to [scaling quick], which is not in the file"},
		},
		{
			name: "unknown section and key",
			data: minimalINI + "colour = blue\n[plugin x]\na = b\n",
			want: []string{
				"c.ini:11: [cluster c] colour: is not a ParallelCluster 2.x or CfnCluster setting of [cluster]; not imported",
				"c.ini:12: [plugin x]: is not a ParallelCluster 2.x or CfnCluster section; not imported",
			},
		},
		{
			name: "bad numbers and booleans",
			data: minimalINI + "max_queue_size = many\nmaintain_initial_size = perhaps\nspot_price = cheap\ncluster_type = spot\n",
			want: []string{
				"c.ini:11: [cluster c] max_queue_size: `many` is not a whole number; using 10",
				"c.ini:12: [cluster c] maintain_initial_size: `perhaps` is not true or false; using false",
				"c.ini:13: [cluster c] spot_price: `cheap` is not a number; left out",
			},
		},
		{
			name: "spot price without spot",
			data: minimalINI + "spot_price = 0.5\n",
			want: []string{"c.ini:11: [cluster c] spot_price: only used with spot instances; left out"},
		},
		{
			name: "initial above max",
			data: minimalINI + "initial_queue_size = 20\n",
			want: []string{"c.ini:7: [cluster c]: the imported spec is not valid yet: compute[0].initialNodes: is 20, more than maxNodes (10)"},
		},
		{
			name: "arguments without a script",
			data: minimalINI + "post_install_args = a b\n",
			want: []string{"c.ini:11: [cluster c] post_install_args: has no post_install to pass them to; left out"},
		},
		{
			name: "unterminated quote",
			data: minimalINI + "post_install = s3://b/p.sh\npost_install_args = 'a b\n",
			want: []string{"c.ini:12: [cluster c] post_install_args: unterminated ' in the arguments; passed as one argument"},
		},
		{
			name: "queues with sge",
			data: minimalINI + "queue_settings = q\n[queue q]\ncompute_resource_settings = r\n[compute_resource r]\ninstance_type = c5.large\n",
			want: []string{"c.ini:11: [cluster c] queue_settings: needs the slurm scheduler (ParallelCluster refused it with sge); the queues are imported as they are"},
		},
		{
			name: "role and policies",
			data: minimalINI + "ec2_iam_role = nodes\nadditional_iam_policies = arn:aws:iam::aws:policy/ReadOnlyAccess\n",
			want: []string{"c.ini:12: [cluster c] additional_iam_policies: not imported: with ec2_iam_role the permissions belong on that role; attach them to it"},
		},
		{
			name: "tags not JSON",
			data: minimalINI + "tags = team=cfd\n",
			want: []string{"c.ini:11: [cluster c] tags: is not a JSON object of tags (invalid character 'e' in literal true (expecting 'r')); left out"},
		},
		{
			name: "cluster name",
			data: strings.Replace(minimalINI, "[cluster c]", "[cluster 2_big]", 1),
			want: []string{"c.ini:7: [cluster 2_big]: the cluster is named `cluster-2-big`: a Driftless cluster name holds only letters, digits and hyphens and starts with a letter"},
		},
		{
			name: "no region",
			data: strings.Replace(minimalINI, "aws_region_name = eu-west-1\n", "", 1),
			want: []string{"c.ini:1: [aws]: aws_region_name is not set; the spec says us-east-1, ParallelCluster's default (it also read AWS_DEFAULT_REGION, which a spec cannot)"},
		},
		{
			name: "continuation and inline comment",
			data: minimalINI + "additional_iam_policies = arn:aws:iam::aws:policy/A,\n  arn:aws:iam::aws:policy/B ; the second\n",
		},
		{
			name: "several ebs without shared_dir",
			data: strings.Replace(minimalINI, "ebs_settings = NONE", "ebs_settings = a, b", 1) + "[ebs a]\n[ebs b]\nshared_dir = b\n",
			want: []string{
				"c.ini:7: [cluster c]: the imported spec is not valid yet: storage.ebs[0].mountDir: is required when there is more than one EBS volume",
				"c.ini:13: [ebs b] shared_dir: the spec mounts it at /b",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, notes, err := ImportINI("c.ini", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range notes {
				got = append(got, n.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("notes:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestShellSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: "a b  c", want: []string{"a", "b", "c"}},
		{in: `R 'curl -s' "wget --quiet"`, want: []string{"R", "curl -s", "wget --quiet"}},
		{in: `a\ b "x\"y" 'it''s'`, want: []string{"a b", `x"y`, "its"}},
		{in: `"$HOME"`, want: []string{"$HOME"}},
		{in: `'open`, err: true},
		{in: `"open`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := shellSplit(tt.in)
			if (err != nil) != tt.err || !slices.Equal(got, tt.want) {
				t.Errorf("shellSplit(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzImportINI(f *testing.F) {
	files, _ := filepath.Glob("testdata/import/*.ini")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimalINI))
	f.Fuzz(func(t *testing.T, data []byte) {
		clusters, notes, err := ImportINI("f.ini", data)
		if err != nil {
			return
		}
		for _, c := range clusters {
			if _, err := Marshal(c); err != nil {
				t.Fatalf("Marshal: %v", err)
			}
		}
		for _, n := range notes {
			if n.Line < 1 {
				t.Errorf("note without a line: %s", n)
			}
		}
	})
}
