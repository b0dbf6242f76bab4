package torque

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseNodes(t *testing.T) {
	nodes, err := ParseNodes(read(t, "pbsnodes-x.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.Name+"="+string(n.State)+"/"+strconv.Itoa(n.SlotsUsed)+"of"+strconv.Itoa(n.Slots))
	}
	want := "ip-10-0-1-5=idle/0of4 ip-10-0-1-6=allocated/4of4 ip-10-0-1-7=mixed/2of4 ip-10-0-1-8=drained/0of4 ip-10-0-1-9=draining/4of4 ip-10-0-1-10=down/0of4"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	if !strings.HasPrefix(nodes[3].Reason, "driftless:") {
		t.Errorf("note = %q", nodes[3].Reason)
	}
}

func TestParseJobs(t *testing.T) {
	jobs, err := ParseJobs(read(t, "qstat-x.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range jobs {
		got = append(got, j.ID+":"+strconv.FormatBool(j.Pending)+":"+strconv.FormatBool(j.Eligible)+":"+strconv.Itoa(j.Nodes)+"/"+strconv.Itoa(j.Slots))
	}
	want := "12.head:false:false:1/4 16.head:true:true:3/12 17.head:true:false:1/1 19.head:true:true:1/6"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
	if jobs, err := ParseJobs(nil); err != nil || jobs != nil {
		t.Errorf("empty qstat: %v %v", jobs, err)
	}
}

func FuzzParseNodes(f *testing.F) {
	f.Add(read(f, "pbsnodes-x.xml"))
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := ParseNodes(b)
		if err != nil {
			return
		}
		for _, n := range nodes {
			if n.Name == "" || n.Slots < 0 || n.SlotsUsed < 0 {
				t.Fatalf("bad node %+v", n)
			}
		}
	})
}

func FuzzParseJobs(f *testing.F) {
	f.Add(read(f, "qstat-x.xml"))
	f.Fuzz(func(t *testing.T, b []byte) {
		jobs, err := ParseJobs(b)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if j.Nodes < 1 || j.Slots < 1 {
				t.Fatalf("bad job %+v", j)
			}
		}
	})
}
