package spec

import "testing"

// TestParseSchemaRules covers the rules of the settings beyond the first
// cut: storage, AWS Batch, scheduler-specific settings, IAM, scripts and
// the daemon's own policy. Each case edits or extends base.
func TestParseSchemaRules(t *testing.T) {
	for _, tt := range schemaRuleCases() {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, edit(t, tt.edits...)+tt.add, tt.want)
		})
	}
}

func TestLoginUserFollowsBaseOS(t *testing.T) {
	tests := []struct {
		baseOS, want string
	}{
		{"alinux2", "ec2-user"},
		{"centos7", "centos"},
		{"ubuntu1804", "ubuntu"},
		{"ubuntu2004", "ubuntu"},
	}
	for _, tt := range tests {
		t.Run(tt.baseOS, func(t *testing.T) {
			c, errs := Parse("c.yaml", []byte(base+"baseOS: "+tt.baseOS+"\n"))
			if errs != nil {
				t.Fatal(errs)
			}
			if c.LoginUser != tt.want {
				t.Errorf("LoginUser = %q, want %q", c.LoginUser, tt.want)
			}
		})
	}
}
