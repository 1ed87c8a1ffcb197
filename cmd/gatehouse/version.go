package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `gatehouse version` prints: the build's module
// version and the commit it was built from, as the Go toolchain recorded
// them.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"commit_time,omitempty"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "(unknown)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Version = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the build's version, commit and Go version",
		Example: "  gatehouse version\n  gatehouse version --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			if jsonFlag(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			commit := v.Commit
			switch {
			case commit == "":
				commit = "unknown commit"
			case v.Modified:
				commit += " (modified)"
			}
			if v.Time != "" {
				commit += " of " + v.Time
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s, %s, %s %s\n", v.Version, commit, v.Go, v.Platform)
			return err
		},
	}
}
