package slurm

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/pkg/scale"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func states(nodes []scale.Node) string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name+"="+string(n.State))
	}
	return strings.Join(s, " ")
}

func TestParseNodes(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"00-idle.sinfo.json", "c1=powered-down c2=powered-down n1=idle n2=idle n3=idle"},
		{"01-busy-and-pending.sinfo.json", "c1=powered-down c2=powered-down n1=mixed n2=allocated n3=allocated"},
		{"02-drain.sinfo.json", "c1=powered-down c2=powered-down n1=mixed n2=allocated n3=draining"},
		{"02-drain.rest-jwt-nodes.json", "c1=powered-down c2=powered-down n1=mixed n2=allocated n3=draining"},
		{"04-powering-up.sinfo.json", "c1=booting c2=booting n1=mixed n2=mixed n3=mixed"},
		{"07-powering-down.sinfo.json", "c1=idle c2=powered-down n1=idle n2=idle n3=idle"},
		{"08-powered-down.sinfo.json", "c1=idle c2=powered-down n1=idle n2=idle n3=idle"},
		{"v0.0.40-nodes.json", "ip-10-0-1-5=idle ip-10-0-1-6=drained ip-10-0-1-7=draining ip-10-0-1-8=down gpu-1=powered-down"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			nodes, err := ParseNodes(read(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := states(nodes); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseNodesFields(t *testing.T) {
	nodes, err := ParseNodes(read(t, "02-drain.sinfo.json"))
	if err != nil {
		t.Fatal(err)
	}
	n3 := nodes[4]
	if n3.Name != "n3" || n3.Reason != "test drain test" || n3.Slots != 2 || n3.SlotsUsed != 2 ||
		n3.Address != "127.0.0.1" || n3.Hostname != "localhost" || !slices.Equal(n3.Queues, []string{"debug"}) {
		t.Errorf("n3 = %+v", n3)
	}
	nodes, err = ParseNodes(read(t, "v0.0.40-nodes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !nodes[0].Since.Equal(time.Unix(1795910120, 0)) || nodes[0].Slots != 4 {
		t.Errorf("idle node = %+v", nodes[0])
	}
	if nodes[1].InstanceID != "i-0123456789abcdef0" || !nodes[1].Since.Equal(time.Unix(1795910124, 0)) {
		t.Errorf("drained node = %+v", nodes[1])
	}
	if nodes[2].SlotsUsed != 2 || !nodes[2].Since.IsZero() {
		t.Errorf("draining node = %+v", nodes[2])
	}
}

func jobLine(jobs []scale.Job) string {
	var s []string
	for _, j := range jobs {
		w := "run"
		if j.Pending {
			w = "pend"
			if !j.Eligible {
				w = "held"
			}
		}
		x := ""
		if j.Exclusive {
			x = "x"
		}
		s = append(s, j.ID+":"+w+":"+j.Queue+":"+strconv.Itoa(j.Nodes)+"/"+strconv.Itoa(j.Slots)+x+strings.Join(j.RequiredNodes, "+"))
	}
	return strings.Join(s, " ")
}

func TestParseJobs(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"01-busy-and-pending.squeue.json", "1:run:debug:1/1 2:run:debug:2/4x 3:pend:debug:9/9"},
		{"01-busy-and-pending.rest-jwt-jobs.json", "1:run:debug:1/1 2:run:debug:2/4x 3:pend:debug:9/9"},
		{"04-powering-up.squeue.json", "3:pend:debug:9/9 4:run:debug:5/5"},
		{"v0.0.40-jobs.json", "10:pend:compute:3/12x 11:held:compute:1/1 12:run:compute:1/2ip-10-0-1-7+ip-10-0-1-8 14_3:pend:compute:1/1"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			jobs, err := ParseJobs(read(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := jobLine(jobs); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{}`, `{"nodes": 3}`, `{"errors":[{"error":"Unable to contact slurm controller","error_number":1}],"nodes":[]}`} {
		if _, err := ParseNodes([]byte(in)); err == nil {
			t.Errorf("ParseNodes(%q) gave no error", in)
		}
		if _, err := ParseJobs([]byte(strings.ReplaceAll(in, "nodes", "jobs"))); err == nil {
			t.Errorf("ParseJobs(%q) gave no error", in)
		}
	}
}

func TestExpandHostlist(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "n1", want: []string{"n1"}},
		{in: "c[1-2],n[1-3]", want: []string{"c1", "c2", "n1", "n2", "n3"}},
		{in: "n[01-03,7]", want: []string{"n01", "n02", "n03", "n7"}},
		{in: "r[1-2]n[1-2]", want: []string{"r1n1", "r1n2", "r2n1", "r2n2"}},
		{in: "ip-10-0-1-[7-8]", want: []string{"ip-10-0-1-7", "ip-10-0-1-8"}},
		{in: "", want: nil},
		{in: "n[1-", bad: true},
		{in: "n[3-1]", bad: true},
		{in: "n]", bad: true},
		{in: "n[1-99999999]", bad: true},
	}
	for _, tt := range tests {
		got, err := ExpandHostlist(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseNodes(f *testing.F) {
	for _, n := range []string{"02-drain.sinfo.json", "v0.0.40-nodes.json"} {
		f.Add(read(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := ParseNodes(b)
		if err != nil {
			return
		}
		for _, n := range nodes {
			if n.Name == "" || !slices.Contains(scale.NodeStates, n.State) {
				t.Fatalf("bad node %+v", n)
			}
		}
	})
}

func FuzzParseJobs(f *testing.F) {
	for _, n := range []string{"01-busy-and-pending.squeue.json", "v0.0.40-jobs.json"} {
		f.Add(read(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		jobs, err := ParseJobs(b)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if j.Nodes < 1 || j.Slots < 1 || (j.Eligible && !j.Pending) {
				t.Fatalf("bad job %+v", j)
			}
		}
	})
}

func FuzzExpandHostlist(f *testing.F) {
	for _, s := range []string{"c[1-2],n[1-3]", "n[01-03,7]", "r[1-2]n[1-2]", "a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ExpandHostlist(s)
		if err == nil && len(got) > maxHostlist {
			t.Fatalf("%q expanded to %d names", s, len(got))
		}
	})
}
