package remote

import (
	"context"
	"testing"
)

func TestQuoteRoundTripsThroughShell(t *testing.T) {
	l := &Local{}
	for _, s := range []string{"plain", "", "two words", "it's", `$(touch /x) ; rm -rf / "x"`, "a\nb", "--reason=driftless: idle since 12:00", "*"} {
		out, err := l.Run(context.Background(), nil, "sh", "-c", "printf %s "+Quote(s))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) came back as %q", s, out)
		}
	}
}

func TestCommand(t *testing.T) {
	got := Command([]string{"SLURM_CONF=/etc/slurm x.conf"}, "scontrol", "update", "nodename=n1", "reason=driftless: idle")
	want := `env 'SLURM_CONF=/etc/slurm x.conf' scontrol update nodename=n1 'reason=driftless: idle'`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"a", "it's", "$HOME", "`id`"} {
		f.Add(s)
	}
	l := &Local{}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range s {
			if r == 0 {
				return // no argv can carry NUL
			}
		}
		out, err := l.Run(context.Background(), nil, "sh", "-c", "printf %s "+Quote(s))
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Fatalf("Quote(%q) came back as %q", s, out)
		}
	})
}
