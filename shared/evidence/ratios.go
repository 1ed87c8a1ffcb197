package evidence

import (
	"bufio"
	"encoding/json"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
)

// Ratio is a benchmark metric against its target, from a benchmark run.
type Ratio struct {
	Benchmark string   `json:"benchmark"` // name without the -GOMAXPROCS suffix
	Metric    string   `json:"metric"`
	Value     float64  `json:"value"`
	Min       *float64 `json:"min,omitempty"` // target: at least
	Max       *float64 `json:"max,omitempty"` // target: at most
	Met       *bool    `json:"met,omitempty"` // nil without a target
	Why       string   `json:"why,omitempty"` // what the target stands for
}

// target is a documented goal of a benchmark metric.
type target struct {
	bench    *regexp.Regexp
	metric   string
	min, max float64 // 0: none
	why      string
}

// targets are the goals the benchmarks document (their comments and
// docs/scaling.md). A metric without one is reported without a target.
var targets = []target{
	{regexp.MustCompile(`^BenchmarkAuditContention/writers=64$`), "ratio", 0.8, 0, "audited writes / plain writes at 64 writers (AUDIT-5)"},
	{regexp.MustCompile(`^BenchmarkSequencer/backlog$`), "events/s", 4000, 0, "above the prod maximum audited-write rate (docs/scaling.md)"},
	{regexp.MustCompile(`^BenchmarkSequencer/latency$`), "p99-ms", 0, 1000, "an event is integrated within 1 s p99"},
	{regexp.MustCompile(`^BenchmarkLogin(/|$)`), "ratio", 0.9, 0, "sign-in throughput / raw Argon2id"},
	{regexp.MustCompile(`^BenchmarkAuthenticate(/|$)`), "ratio", 0.8, 0, "request check / one Ed25519 verification"},
	{regexp.MustCompile(`^BenchmarkTokenFresh(/|$)`), "ratio-%", 70, 0, "broker call / its floor, percent"},
	{regexp.MustCompile(`^BenchmarkReencrypt(/|$)`), "ratio", 0.5, 0, "re-encryption / raw open+seal+write"},
	{regexp.MustCompile(`^BenchmarkEnumerationTiming(/|$)`), "known/unknown", 0.9, 1.1, "known / unknown address timing (AUTH-4)"},
}

// ratioMetric reports whether a metric is a ratio or has a target: the
// figures the report charts.
func ratioMetric(bench, metric string) (target, bool) {
	for _, t := range targets {
		if t.metric == metric && t.bench.MatchString(bench) {
			return t, true
		}
	}
	return target{}, strings.Contains(metric, "ratio") || metric == "x-raw-gcm" || metric == "known/unknown" ||
		metric == "client-known/unknown" || metric == "hashes/proof"
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// ReadBenchmarks returns the ratio metrics of benchmark output (go test
// -bench text, or the same inside a go test -json stream), each with its
// target when one is documented. A benchmark run twice keeps its last
// figure.
func ReadBenchmarks(r io.Reader) ([]Ratio, error) {
	var out []Ratio
	index := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var partial string
	for sc.Scan() {
		line := sc.Text()
		var e struct{ Action, Output string }
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &e) == nil {
			if e.Action != "output" {
				continue
			}
			// test2json splits a benchmark line at its name.
			partial += e.Output
			if !strings.HasSuffix(partial, "\n") {
				continue
			}
			line, partial = strings.TrimSpace(partial), ""
		}
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		fields := strings.Fields(m[2])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			t, ok := ratioMetric(m[1], fields[i+1])
			if !ok {
				continue
			}
			r := Ratio{Benchmark: m[1], Metric: fields[i+1], Value: v, Why: t.why}
			if t.min != 0 {
				r.Min = &t.min
			}
			if t.max != 0 {
				r.Max = &t.max
			}
			if r.Min != nil || r.Max != nil {
				met := (r.Min == nil || v >= *r.Min) && (r.Max == nil || v <= *r.Max)
				r.Met = &met
			}
			key := r.Benchmark + " " + r.Metric
			if i, ok := index[key]; ok {
				out[i] = r
			} else {
				index[key] = len(out)
				out = append(out, r)
			}
		}
	}
	return out, sc.Err()
}

// Checkpoint is the log's newest signed checkpoint, as given to the
// report, and whether its signature verified with the published key.
type Checkpoint struct {
	Origin    string `json:"origin"`
	Size      uint64 `json:"size"`
	Root      []byte `json:"root"`
	Note      string `json:"note"`
	PublicKey string `json:"public_key"`
}

// ReadCheckpoint reads a signed checkpoint (the note itself, or the JSON
// GET /audit/checkpoint answers) and verifies it with publicKey.
func ReadCheckpoint(raw []byte, publicKey string) (*Checkpoint, error) {
	var body struct{ Checkpoint string }
	if json.Unmarshal(raw, &body) == nil && body.Checkpoint != "" {
		raw = []byte(body.Checkpoint)
	}
	cp, err := auditproof.OpenCheckpoint(raw, strings.TrimSpace(publicKey))
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root[:], Note: string(cp.Note),
		PublicKey: strings.TrimSpace(publicKey)}, nil
}
