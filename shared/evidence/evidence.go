// Package evidence builds the control evidence report `gatehouse evidence`
// writes: every control of the catalogue (CONTROLS.md), the tests that name
// it in their `// Controls:` comments and how each fared in a `go test
// -json` run, the benchmark ratios against their targets, and the log's
// newest signed checkpoint. A control is red when no test naming it
// passed, or when one of them failed or was skipped.
package evidence

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Control is one control of the catalogue and its evidence.
type Control struct {
	ID     string  `json:"id"`
	Text   string  `json:"text"`
	Green  bool    `json:"green"`
	Reason string  `json:"reason,omitempty"` // why it is red
	Tests  []*Test `json:"tests"`
}

// Family is a heading of the catalogue ("AUTH: authentication and
// identity") and its controls.
type Family struct {
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Controls []*Control `json:"controls"`
}

// Test is a test that names controls, and its result.
type Test struct {
	Package string   `json:"package"`
	Name    string   `json:"name"` // TestX, or */Case for a conformance case
	File    string   `json:"file"`
	Line    int      `json:"line"`
	Result  string   `json:"result"` // pass, fail, skip, or "not run"
	Seconds float64  `json:"seconds"`
	Runs    []string `json:"runs,omitempty"` // for a conformance case: the tests that ran it
}

// Results.
const (
	Pass   = "pass"
	Fail   = "fail"
	Skip   = "skip"
	NotRun = "not run"
)

// Report is everything the HTML and the JSON show.
type Report struct {
	Generated  time.Time   `json:"generated"`
	Catalogue  string      `json:"catalogue"`
	Families   []*Family   `json:"families"`
	Ratios     []Ratio     `json:"ratios"`
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	Summary    Summary     `json:"summary"`
}

// Summary counts controls and test results.
type Summary struct {
	Controls int      `json:"controls"`
	Green    int      `json:"green"`
	Red      []string `json:"red"` // IDs of red controls
	Tests    int      `json:"tests"`
	Passed   int      `json:"passed"`
	Failed   int      `json:"failed"`
	Skipped  int      `json:"skipped"`
}

// ParseControls reads the catalogue: "## ID: title" headings and
// "- ID text" controls under them.
func ParseControls(r io.Reader) ([]*Family, error) {
	heading := regexp.MustCompile(`^##\s+([A-Z]+):\s*(.*)$`)
	control := regexp.MustCompile(`^-\s+([A-Z]+-\d+)\s+(.*)$`)
	var fams []*Family
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := heading.FindStringSubmatch(line); m != nil {
			fams = append(fams, &Family{ID: m[1], Title: m[2]})
			continue
		}
		if m := control.FindStringSubmatch(line); m != nil {
			if len(fams) == 0 {
				return nil, fmt.Errorf("control %s before any family heading", m[1])
			}
			f := fams[len(fams)-1]
			f.Controls = append(f.Controls, &Control{ID: m[1], Text: m[2]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	n := 0
	for _, f := range fams {
		n += len(f.Controls)
	}
	if n == 0 {
		return nil, fmt.Errorf("no controls found (want \"- ID text\" lines under \"## FAMILY: title\" headings)")
	}
	return fams, nil
}

// Results holds the outcome of every test and subtest of go test -json
// runs, by package and name.
type Results map[string]map[string]Outcome

// Outcome is one test's result; of several runs, the worst counts.
type Outcome struct {
	Action  string
	Seconds float64
}

var rank = map[string]int{Pass: 1, Skip: 2, Fail: 3}

// ReadTestJSON adds the test results of a `go test -json` stream to res.
// Lines that are not JSON (a build error printed around the stream) are
// ignored; a stream without any test result is an error, so a wrong file
// does not pass for an empty run.
func (res Results) ReadTestJSON(r io.Reader) error {
	type event struct {
		Action  string
		Package string
		Test    string
		Elapsed float64
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	found := 0
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Test == "" || rank[e.Action] == 0 {
			continue
		}
		found++
		m := res[e.Package]
		if m == nil {
			m = map[string]Outcome{}
			res[e.Package] = m
		}
		if old, ok := m[e.Test]; !ok || rank[e.Action] > rank[old.Action] {
			m[e.Test] = Outcome{Action: e.Action, Seconds: e.Elapsed}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if found == 0 {
		return fmt.Errorf("no test results in the stream: is it `go test -json` output?")
	}
	return nil
}

// Build joins the catalogue, the tests that name controls and their
// results into a report (ratios and checkpoint are added by the caller).
func Build(fams []*Family, tagged []TaggedTest, res Results) *Report {
	byID := map[string]*Control{}
	for _, f := range fams {
		for _, c := range f.Controls {
			byID[c.ID] = c
		}
	}
	rep := &Report{Families: fams}
	seen := map[*Test]bool{}
	for _, tt := range tagged {
		t := tt.Test
		t.Result, t.Seconds, t.Runs = result(tt, res)
		for _, id := range tt.Controls {
			if c := byID[id]; c != nil {
				c.Tests = append(c.Tests, t)
			}
		}
		if !seen[t] {
			seen[t] = true
			rep.Summary.Tests++
			switch t.Result {
			case Pass:
				rep.Summary.Passed++
			case Fail:
				rep.Summary.Failed++
			case Skip:
				rep.Summary.Skipped++
			}
		}
	}
	for _, f := range fams {
		for _, c := range f.Controls {
			rep.Summary.Controls++
			slices.SortFunc(c.Tests, func(a, b *Test) int {
				return strings.Compare(a.Package+" "+a.Name, b.Package+" "+b.Name)
			})
			c.Green, c.Reason = judge(c.Tests)
			if c.Green {
				rep.Summary.Green++
			} else {
				rep.Summary.Red = append(rep.Summary.Red, c.ID)
			}
		}
	}
	return rep
}

// judge: green when at least one test passed and none failed or was
// skipped.
func judge(tests []*Test) (bool, string) {
	if len(tests) == 0 {
		return false, "no test names this control"
	}
	passed := 0
	for _, t := range tests {
		switch t.Result {
		case Fail:
			return false, t.Name + " failed"
		case Skip:
			return false, t.Name + " was skipped"
		case Pass:
			passed++
		}
	}
	if passed == 0 {
		return false, "no test naming this control ran"
	}
	return true, ""
}

// result looks up a tagged test. A top-level test is found in its
// package; a conformance case (a function of a shared suite that test
// packages run as a subtest named after it) is found as "<Test>/<Case>"
// in every package, and its result is the worst of those runs.
func result(tt TaggedTest, res Results) (string, float64, []string) {
	if tt.Case == "" {
		o, ok := res[tt.Test.Package][tt.Test.Name]
		if !ok {
			return NotRun, 0, nil
		}
		return o.Action, o.Seconds, nil
	}
	worst, secs := "", 0.0
	var runs []string
	for pkg, tests := range res {
		for name, o := range tests {
			top, sub, ok := strings.Cut(name, "/")
			if !ok || (sub != tt.Case && !strings.HasSuffix(sub, "/"+tt.Case)) {
				continue
			}
			runs = append(runs, pkg+" "+top+"/"+sub)
			secs += o.Seconds
			if rank[o.Action] > rank[worst] {
				worst = o.Action
			}
		}
	}
	slices.Sort(runs)
	if worst == "" {
		return NotRun, 0, nil
	}
	return worst, secs, runs
}
