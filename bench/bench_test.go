package bench

import (
	"strings"
	"testing"
	"time"
)

const nasa = "testdata/NASA-iPSC-1993-3.1-cln.swf.gz"

func load(t testing.TB) Trace {
	t.Helper()
	tr, err := LoadSWF(nasa)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestLoadNASA(t *testing.T) {
	tr := load(t)
	if len(tr.Jobs) != 18239 || tr.MaxNodes != 128 {
		t.Fatalf("%d jobs, max %d nodes", len(tr.Jobs), tr.MaxNodes)
	}
	if !strings.Contains(strings.Join(tr.Header, "\n"), "NASA Ames Research Center") {
		t.Fatal("header lost")
	}
	if j := tr.Jobs[0]; j.ID != 1 || j.Submit != 0 || j.Run != 1451 || j.Nodes != 128 {
		t.Fatalf("first job %+v", j)
	}
}

func TestParseSWF(t *testing.T) {
	tests := []struct {
		name, in string
		jobs     int
		bad      bool
	}{
		{name: "header only", in: "; MaxNodes: 4\n;\n"},
		{name: "requested size wins", in: "1 0 -1 10 2 -1 -1 4 -1 -1 -1 1 1 -1 -1 -1 -1 -1\n", jobs: 1},
		{name: "unknown size skipped", in: "1 0 -1 10 -1 -1 -1 -1 -1 -1 -1 1 1 -1 -1 -1 -1 -1\n"},
		{name: "negative run skipped", in: "1 0 -1 -1 2 -1 -1 2 -1 -1 -1 1 1 -1 -1 -1 -1 -1\n"},
		{name: "too few fields", in: "1 0 -1\n", bad: true},
		{name: "not a number", in: "1 x -1 10 2 -1 -1 4 -1 -1 -1 1 1 -1 -1 -1 -1 -1\n", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ParseSWF(strings.NewReader(tt.in))
			if (err != nil) != tt.bad {
				t.Fatalf("err = %v", err)
			}
			if len(tr.Jobs) != tt.jobs {
				t.Fatalf("jobs = %+v", tr.Jobs)
			}
		})
	}
}

// TestReplayPrefix replays the first weeks of the trace: no policy kills
// a job, the static fleet waits only where the trace itself did, and the
// dynamic policies cost less than the static fleet.
func TestReplayPrefix(t *testing.T) {
	tr := load(t)
	tr.Jobs = tr.Jobs[:3000]
	rs := Compare(tr, Options{})
	for _, r := range rs {
		if r.JobsKilled != 0 {
			t.Errorf("%s killed %d jobs", r.Policy, r.JobsKilled)
		}
		if r.Jobs != 3000 {
			t.Errorf("%s ran %d jobs", r.Policy, r.Jobs)
		}
	}
	if rs[0].MeanWait != 0 || rs[0].ScaleActions != 0 {
		t.Errorf("static: %+v", rs[0])
	}
	for _, r := range rs[1:] {
		if r.NodeHours >= rs[0].NodeHours {
			t.Errorf("%s used %.0f node-hours, static %.0f", r.Policy, r.NodeHours, rs[0].NodeHours)
		}
		if r.MaxWait > 10*time.Minute {
			t.Errorf("%s made a job wait %v beyond the static fleet", r.Policy, r.MaxWait)
		}
	}
	t.Logf("\n%s", Table(rs))
}

func FuzzParseSWF(f *testing.F) {
	f.Add("; MaxNodes: 128\n1 0 -1 1451 128 -1 -1 -1 -1 -1 -1 1 1 -1 -1 -1 -1 -1\n")
	f.Add("57 25574 -1 10 1 -1 -1 -1 -1 -1 -1 4 1 2 -1 -1 -1 -1\n")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := ParseSWF(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, j := range tr.Jobs {
			if j.Nodes <= 0 || j.Run < 0 || j.Submit < 0 {
				t.Fatalf("bad job %+v", j)
			}
		}
	})
}

// BenchmarkReplay replays the whole trace through each policy and reports
// node-hours, extra wait and scale actions as benchmark metrics.
//
//	go test ./bench -run '^$' -bench Replay -benchtime 1x
func BenchmarkReplay(b *testing.B) {
	tr := load(b)
	for range b.N {
		rs := Compare(tr, Options{})
		for _, r := range rs {
			name := strings.Fields(r.Policy)[0]
			b.ReportMetric(r.NodeHours, name+"-node-hours")
			b.ReportMetric(r.MeanWait.Seconds(), name+"-mean-extra-wait-s")
			b.ReportMetric(r.P95Wait.Seconds(), name+"-p95-extra-wait-s")
			b.ReportMetric(float64(r.Launched), name+"-nodes-launched")
			b.ReportMetric(float64(r.ScaleActions), name+"-scale-actions")
			b.ReportMetric(float64(r.JobsKilled), name+"-jobs-killed")
		}
	}
}
