package render

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/driftless/driftless/pkg/spec"
)

// resolveSub does what CloudFormation does to an Fn::Sub string: variables
// are replaced by their values and ${! becomes ${. An unknown variable fails
// the test: the user's text must never become one.
func resolveSub(t *testing.T, text string, vars map[string]string) string {
	t.Helper()
	re := regexp.MustCompile(`\$\{(!?)([^}]*)\}`)
	return re.ReplaceAllStringFunc(text, func(m string) string {
		g := re.FindStringSubmatch(m)
		if g[1] == "!" {
			return "${" + g[2] + "}"
		}
		v, ok := vars[g[2]]
		if !ok {
			t.Fatalf("unexpected variable ${%s}", g[2])
		}
		return v
	})
}

func TestSubTextRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
	}{
		{"plain", "alpha"},
		{"dollar brace", "a${HOME}b"},
		{"escaped already", "a${!x}b"},
		{"unclosed", "$${{"},
		{"backslash dollar", `\${x}`},
		{"literal sentinel", `$\u007bHeadNode.PrivateIp}`},
		{"html", "<a & b>"},
		{"unicode", "grüße ${ü}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NodeConfig{Cluster: tt.cluster, Role: RoleCompute, HeadNodeAddress: &Value{Resource: "HeadNode", Attribute: "PrivateIp"}}
			text, err := cfg.SubText()
			if err != nil {
				t.Fatal(err)
			}
			resolved := resolveSub(t, text, map[string]string{"HeadNode.PrivateIp": "10.0.0.9"})
			var got map[string]any
			if err := json.Unmarshal([]byte(resolved), &got); err != nil {
				t.Fatalf("resolved text is not JSON: %v\n%s", err, resolved)
			}
			if got["cluster"] != tt.cluster {
				t.Errorf("cluster = %q, want %q", got["cluster"], tt.cluster)
			}
			if got["headNodeAddress"] != "10.0.0.9" {
				t.Errorf("headNodeAddress = %q", got["headNodeAddress"])
			}
		})
	}
}

func TestSub(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // JSON of the value
	}{
		{"no variables", "a b", `"a b"`},
		{"only escapes", "a ${!HOME} ${!!x}", `"a ${HOME} ${!x}"`},
		{"variable", "a ${X}", `{"Fn::Sub":"a ${X}"}`},
		{"escape then variable", "${!a} ${X.Y}", `{"Fn::Sub":"${!a} ${X.Y}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonOf(t, sub(tt.in)); got != tt.want {
				t.Errorf("sub(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestValueMarshal(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Value{Text: "fs-0123"}, `"fs-0123"`},
		{Value{Text: ""}, `""`},
		{Value{Resource: "SharedFileSystem"}, `"` + subOpen + `SharedFileSystem}"`},
		{Value{Resource: "HeadNode", Attribute: "PrivateIp"}, `"` + subOpen + `HeadNode.PrivateIp}"`},
	}
	for _, tt := range tests {
		if got := jsonOf(t, tt.v); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.v, got, tt.want)
		}
	}
	for _, r := range []Value{{Resource: "a-b"}, {Resource: "A", Attribute: "x}y"}} {
		if _, err := json.Marshal(r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

func TestUserData(t *testing.T) {
	c := minimal()
	head, err := UserData(HeadNodeConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	more := minimal()
	more.Compute[0].MaxNodes = 99
	more.Compute = append(more.Compute, spec.Queue{Name: "gpu", InstanceType: "g5.xlarge", MaxNodes: 2, CapacityType: "onDemand"})
	if again, err := UserData(HeadNodeConfig(more)); err != nil || again != head {
		t.Errorf("a queue added or resized changes the head node's user data, which would restart the head node (err %v)", err)
	}
	compute, err := UserData(ComputeNodeConfig(c, &c.Compute[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#!/bin/bash\n", `QUEUE='compute'`, `HEAD_ADDRESS='${HeadNode.PrivateIp}'`} {
		if !strings.Contains(compute, want) {
			t.Errorf("compute user data lacks %q:\n%s", want, compute)
		}
	}
	big := ComputeNodeConfig(c, &c.Compute[0])
	big.Cluster = strings.Repeat("x", maxUserData)
	if _, err := UserData(big); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("oversized user data: err = %v", err)
	}
}

// FuzzSubText checks that no text of the user's can become an Fn::Sub
// variable or lose a character on its way through CloudFormation.
func FuzzSubText(f *testing.F) {
	for _, s := range []string{"plain", "${HOME}", "${!x}", `$\u007bHeadNode.PrivateIp}`, "$${{", "\\", "\x00", "${"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("the spec holds UTF-8 text only")
		}
		cfg := NodeConfig{Cluster: s, Proxy: s, PreInstall: &Script{URL: s, Args: []string{s}}, HeadNodeAddress: headAddress()}
		text, err := cfg.SubText()
		if err != nil {
			t.Fatal(err)
		}
		resolved := resolveSub(t, text, map[string]string{"HeadNode.PrivateIp": "10.0.0.9"})
		var got NodeConfig
		var raw map[string]any
		if err := json.Unmarshal([]byte(resolved), &raw); err != nil {
			t.Fatalf("resolved text is not JSON: %v", err)
		}
		got.Cluster, _ = raw["cluster"].(string)
		got.Proxy, _ = raw["proxy"].(string)
		if got.Cluster != s || got.Proxy != s || raw["headNodeAddress"] != "10.0.0.9" {
			t.Errorf("round trip of %q gave cluster %q proxy %q address %v", s, got.Cluster, got.Proxy, raw["headNodeAddress"])
		}
	})
}
