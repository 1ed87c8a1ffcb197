package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/modfile"

	"github.com/gatehouse-dev/gatehouse/shared/evidence"
)

// errRed is returned when the report has a red control, so the command
// (and CI) exits non-zero after writing it.
var errRed = errors.New("red controls")

func newEvidence() *cobra.Command {
	var (
		testJSON, bench           []string
		controls, src, out        string
		checkpointFile, publicKey string
	)
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Write the control evidence report (HTML and JSON) from a go test -json run",
		Long: `evidence maps every control of the catalogue to the tests that name it in
their "// Controls:" comments and to their results in a go test -json run
(scripts/test writes .gatehouse/test.json), adds the benchmark ratios against
their targets (--bench: the output of scripts/bench) and the audit log's newest
signed checkpoint (--checkpoint and --public-key), and writes evidence.html (one
self-contained page) and evidence.json to --out. A control is red when no test
naming it passed or one of them failed or was skipped; the command then exits
with status 3, after writing the report (1 on any other error).`,
		Example: `  scripts/test && gatehouse evidence
  gatehouse evidence --test-json ci/test.json --bench ci/bench.txt --controls ../shared/CONTROLS.md --out report
  curl -s https://auth.example.com/auth/audit/checkpoint > checkpoint.json
  gatehouse evidence --checkpoint checkpoint.json --public-key @published-key.txt --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			catalogue, err := os.ReadFile(controls)
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("control catalogue %s not found: give its path with --controls "+
					"(it lives beside the repository, as ../shared/CONTROLS.md)", controls)
			}
			if err != nil {
				return err
			}
			fams, err := evidence.ParseControls(bytes.NewReader(catalogue))
			if err != nil {
				return fmt.Errorf("%s: %w", controls, err)
			}
			modPath, err := modulePath(src)
			if err != nil {
				return err
			}
			tagged, err := evidence.Scan(src, modPath)
			if err != nil {
				return err
			}
			res := evidence.Results{}
			for _, name := range testJSON {
				err := readInto(name, func(f *os.File) error { return res.ReadTestJSON(f) })
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("test results %s not found: run scripts/test first (it writes them), or give --test-json", name)
				}
				if err != nil {
					return fmt.Errorf("test results %s: %w", name, err)
				}
			}
			rep := evidence.Build(fams, tagged, res)
			rep.Generated, rep.Catalogue = time.Now().UTC(), controls
			for _, name := range bench {
				if err := readInto(name, func(r *os.File) error {
					ratios, err := evidence.ReadBenchmarks(r)
					rep.Ratios = append(rep.Ratios, ratios...)
					return err
				}); err != nil {
					return fmt.Errorf("benchmarks %s: %w", name, err)
				}
			}
			if checkpointFile != "" || publicKey != "" {
				if checkpointFile == "" || publicKey == "" {
					return errors.New("--checkpoint and --public-key go together: the checkpoint is shown only once its signature verifies")
				}
				raw, err := os.ReadFile(checkpointFile)
				if err != nil {
					return err
				}
				key, err := readArg(publicKey)
				if err != nil {
					return err
				}
				if rep.Checkpoint, err = evidence.ReadCheckpoint(raw, key); err != nil {
					return fmt.Errorf("checkpoint %s: %w", checkpointFile, err)
				}
			}
			if err := writeReport(rep, out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if jsonFlag(cmd) {
				if err := writeJSON(w, map[string]any{"html": filepath.Join(out, "evidence.html"),
					"json": filepath.Join(out, "evidence.json"), "summary": rep.Summary}); err != nil {
					return err
				}
				if len(rep.Summary.Red) > 0 {
					return fmt.Errorf("%w: %s", errRed, strings.Join(rep.Summary.Red, ", "))
				}
				return nil
			}
			fmt.Fprintf(w, "evidence report: %s (and evidence.json): %d of %d controls green; %d tests name a control: %d passed, %d failed, %d skipped\n",
				filepath.Join(out, "evidence.html"), rep.Summary.Green, rep.Summary.Controls, rep.Summary.Tests,
				rep.Summary.Passed, rep.Summary.Failed, rep.Summary.Skipped)
			if len(rep.Summary.Red) > 0 {
				for _, f := range rep.Families {
					for _, c := range f.Controls {
						if !c.Green {
							fmt.Fprintf(w, "RED %s: %s\n", c.ID, c.Reason)
						}
					}
				}
				return fmt.Errorf("%w: %s", errRed, strings.Join(rep.Summary.Red, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&testJSON, "test-json", []string{".gatehouse/test.json"}, "go test -json output (repeatable)")
	f.StringArrayVar(&bench, "bench", nil, "benchmark output, text or go test -json (repeatable)")
	f.StringVar(&controls, "controls", "../shared/CONTROLS.md", "the control catalogue")
	f.StringVar(&src, "src", ".", "the repository whose tests name controls")
	f.StringVar(&out, "out", ".gatehouse/evidence", "directory to write evidence.html and evidence.json to")
	f.StringVar(&checkpointFile, "checkpoint", "", "the log's newest signed checkpoint (the note, or GET /auth/audit/checkpoint's JSON)")
	f.StringVar(&publicKey, "public-key", "", "the log's published public key, or @FILE (GET /auth/audit/public-key)")
	return cmd
}

func readInto(name string, read func(*os.File) error) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return read(f)
}

// modulePath returns the module path of the go.mod in dir.
func modulePath(dir string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("--src %s: %w", dir, err)
	}
	p := modfile.ModulePath(raw)
	if p == "" {
		return "", fmt.Errorf("--src %s: go.mod names no module", dir)
	}
	return p, nil
}

func writeReport(rep *evidence.Report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(*os.File) error{
		"evidence.html": func(f *os.File) error { return rep.WriteHTML(f) },
		"evidence.json": func(f *os.File) error { return rep.WriteJSON(f) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
