package main

import (
	"slices"
	"strings"
	"testing"
)

func TestRetainFlag(t *testing.T) {
	tests := []struct {
		in      []string
		want    map[string][]string
		wantErr bool
	}{
		{in: []string{"hpc=Bucket"}, want: map[string][]string{"hpc": {"Bucket"}}},
		{in: []string{"hpc=Bucket, Logs ,", "gpu=Vol"}, want: map[string][]string{"hpc": {"Bucket", "Logs"}, "gpu": {"Vol"}}},
		{in: []string{"hpc=A", "hpc=B"}, want: map[string][]string{"hpc": {"A", "B"}}},
		{in: []string{"hpc"}, wantErr: true},
		{in: []string{"=Bucket"}, wantErr: true},
		{in: []string{"hpc="}, wantErr: true},
		{in: []string{"hpc=, ,"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			r := retainFlag{}
			var err error
			for _, v := range tt.in {
				if err = r.Set(v); err != nil {
					break
				}
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			for c, ids := range tt.want {
				if !slices.Equal(r[c], ids) {
					t.Errorf("%s: %v, want %v", c, r[c], ids)
				}
			}
		})
	}
}

// FuzzRetainFlag: whatever a person types, the flag either refuses it or
// yields a cluster and logical ids that are neither empty nor hold a comma.
func FuzzRetainFlag(f *testing.F) {
	for _, s := range []string{"hpc=Bucket", "hpc=A,B", "=", "a==b", "hpc=,,", " = x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := retainFlag{}
		if err := r.Set(s); err != nil {
			return
		}
		for c, ids := range r {
			if c == "" || len(ids) == 0 {
				t.Errorf("%q gave cluster %q ids %q", s, c, ids)
			}
			for _, id := range ids {
				if id == "" || strings.Contains(id, ",") || strings.TrimSpace(id) != id {
					t.Errorf("%q gave id %q", s, id)
				}
			}
		}
	})
}
