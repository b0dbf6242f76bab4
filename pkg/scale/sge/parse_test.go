package sge

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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

func summary(st scale.State) string {
	var s []string
	for _, n := range st.Nodes {
		s = append(s, n.Name+"="+string(n.State)+"/"+itoa(n.SlotsUsed)+"of"+itoa(n.Slots))
	}
	for _, j := range st.Jobs {
		w := "run"
		if j.Pending {
			w = "pend"
			if !j.Eligible {
				w = "held"
			}
		}
		s = append(s, j.ID+":"+w+":"+itoa(j.Slots))
	}
	return strings.Join(s, " ")
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestParseQstat(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"qstat-f.xml", "vm=mixed/1of2 2:run:1 3:pend:1 6:pend:1 7:pend:1 8:pend:1"},
		{"qstat-f-disabled.xml", "vm=draining/2of2 2:run:1 3:run:1 6:pend:1 7:pend:1 8:pend:1"},
		{"qstat.xml", "2:run:1 3:pend:1 6:pend:1 7:pend:1 8:pend:1"},
		{"qstat-pending.xml", "3:pend:1 6:pend:1 7:pend:1 8:pend:1"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			st, err := ParseQstat(read(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(st); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseQstatStates(t *testing.T) {
	doc := func(queues string) []byte {
		return []byte(`<?xml version='1.0'?><job_info><queue_info>` + queues + `</queue_info><job_info>
<job_list state="pending"><JB_job_number>9</JB_job_number><state>hqw</state><slots>4</slots></job_list>
<job_list state="pending"><JB_job_number>10</JB_job_number><state>qw</state><slots>1</slots><tasks>1-10:2</tasks></job_list>
</job_info></job_info>`)
	}
	q := func(name, state string, used, total int) string {
		return "<Queue-List><name>" + name + "</name><slots_used>" + itoa(used) + "</slots_used><slots_resv>0</slots_resv><slots_total>" +
			itoa(total) + "</slots_total><state>" + state + "</state></Queue-List>"
	}
	tests := []struct {
		name, queues, want string
	}{
		{"idle", q("all.q@a", "", 0, 2), "a=idle/0of2"},
		{"allocated over two queues", q("all.q@a", "", 2, 2) + q("big.q@a", "", 4, 4), "a=allocated/6of6"},
		{"unreachable", q("all.q@a", "au", 0, 2), "a=down/0of2"},
		{"error", q("all.q@a", "E", 0, 2), "a=down/0of2"},
		{"one of two queues disabled is not drained", q("all.q@a", "d", 0, 2) + q("big.q@a", "", 0, 2), "a=idle/0of4"},
		{"disabled", q("all.q@a", "d", 0, 2), "a=drained/0of2"},
		{"no host part", "<Queue-List><name>all.q</name></Queue-List>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseQstat(doc(tt.queues))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.TrimSpace(tt.want + " 9:held:4 10.1-10:2:pend:5")
			if got := summary(st); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestParseQhostResource(t *testing.T) {
	ids, err := ParseQhostResource(read(t, "qhost-F.xml"), "instance_id")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids["vm"] != "i-0123456789abcdef0" {
		t.Fatalf("ids = %v", ids)
	}
	if ids, err := ParseQhostResource(read(t, "qhost.xml"), "instance_id"); err != nil || len(ids) != 0 {
		t.Fatalf("plain qhost: %v %v", ids, err)
	}
}

func FuzzParseQstat(f *testing.F) {
	for _, n := range []string{"qstat-f.xml", "qstat-f-disabled.xml", "qstat.xml"} {
		f.Add(read(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseQstat(b)
		if err != nil {
			return
		}
		for _, n := range st.Nodes {
			if n.Name == "" || n.Slots < 0 || n.SlotsUsed < 0 {
				t.Fatalf("bad node %+v", n)
			}
		}
		for _, j := range st.Jobs {
			if j.Slots < 1 || j.Nodes != 1 {
				t.Fatalf("bad job %+v", j)
			}
		}
	})
}

func FuzzParseQhostResource(f *testing.F) {
	f.Add(read(f, "qhost-F.xml"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseQhostResource(b, "instance_id")
	})
}
