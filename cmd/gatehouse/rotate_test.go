package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/functions/rotate"
)

// `gatehouse rotate` runs on the embedded defaults and prints the report;
// an invalid flag value is refused before anything runs.
//
// Controls: CRED-8
func TestRotateCommand(t *testing.T) {
	t.Setenv("GATEHOUSE_DATA_DIR", t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		want string
		fail bool
	}{
		{"bad reason", []string{"rotate", "--reason", "now"}, "reason", true},
		{"bad task", []string{"rotate", "--task", "everything"}, "tasks", true},
		{"table", []string{"rotate", "--task", "data-keys", "--task", "purge"}, "rotated=1", false},
		{"checkpoint", []string{"rotate", "checkpoint"}, "no checkpoint", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := newRoot()
			root.SetArgs(tc.args)
			root.SetOut(&out)
			root.SetErr(&errOut)
			err := root.ExecuteContext(context.Background())
			if (err != nil) != tc.fail {
				t.Fatalf("err = %v, want failure %v", err, tc.fail)
			}
			text := out.String()
			if err != nil {
				text = err.Error()
			}
			if !strings.Contains(text, tc.want) {
				t.Fatalf("output %q does not contain %q", text, tc.want)
			}
		})
	}
	var out bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"rotate", "--json", "--dry-run"})
	root.SetOut(&out)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rep rotate.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.DryRun || len(rep.Tasks) != 9 {
		t.Fatalf("JSON report %s: %v", out.String(), err)
	}
}
