package evidence

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteHTML writes the report as one self-contained HTML page: inline
// style and SVG charts, no script, no external asset.
func (r *Report) WriteHTML(w io.Writer) error {
	return page.Execute(w, r)
}

// bar is one row of a ratio chart, laid out for SVG.
type bar struct {
	Label, Value, Target, Class string
	Width, TargetX, TargetX2    float64
	BandWidth                   float64
	HasTarget, HasRange         bool
	Y                           int
}

const chartWidth = 360.0

// Bars lays the ratios out as rows of a horizontal bar chart, each scaled
// to its own target (the target line sits at the same place on every row
// that has one), so rows of different units read alike.
func (r *Report) Bars() []bar {
	var out []bar
	for i, x := range r.Ratios {
		b := bar{Label: x.Benchmark + " " + x.Metric, Value: trim(x.Value), Y: i * 26, Class: "none"}
		ref := x.Value
		switch {
		case x.Min != nil && x.Max != nil:
			ref, b.HasTarget, b.HasRange = *x.Max, true, true
			b.Target = fmt.Sprintf("%s to %s", trim(*x.Min), trim(*x.Max))
		case x.Min != nil:
			ref, b.HasTarget = *x.Min, true
			b.Target = "at least " + trim(*x.Min)
		case x.Max != nil:
			ref, b.HasTarget = *x.Max, true
			b.Target = "at most " + trim(*x.Max)
		}
		if x.Met != nil {
			b.Class = map[bool]string{true: "met", false: "missed"}[*x.Met]
		}
		scale := chartWidth / 2 / math.Max(ref, 1e-9) // the target at the middle
		if !b.HasTarget {
			scale = chartWidth * 0.9 / math.Max(math.Abs(x.Value), 1e-9)
		}
		b.Width = math.Min(math.Abs(x.Value)*scale, chartWidth)
		switch {
		case b.HasRange:
			b.TargetX, b.TargetX2 = *x.Min*scale, *x.Max*scale
			b.BandWidth = b.TargetX2 - b.TargetX
		case x.Min != nil:
			b.TargetX = *x.Min * scale
		case x.Max != nil:
			b.TargetX = *x.Max * scale
		}
		out = append(out, b)
	}
	return out
}

func trim(v float64) string {
	s := fmt.Sprintf("%.3g", v)
	if math.Abs(v) >= 1000 {
		s = fmt.Sprintf("%.0f", v)
	}
	return s
}

// ChartHeight is the height of the ratio chart in pixels.
func (r *Report) ChartHeight() int { return len(r.Ratios)*26 + 4 }

var page = template.Must(template.New("evidence").Funcs(template.FuncMap{
	"b64": func(b []byte) string { return base64.StdEncoding.EncodeToString(b) },
	"cls": func(s string) string { return strings.ReplaceAll(s, " ", "-") },
	"num": func(f *float64) float64 { return *f },
	"yes": func(b *bool) bool { return *b },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse control evidence</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; }
th, td { text-align: left; vertical-align: top; padding: .35em .5em; border-bottom: 1px solid #e4e4e4; }
th { background: #f3f3f3; }
.status { font-weight: 700; white-space: nowrap; }
.green .status { color: #106b21; }
.red .status { color: #b00020; }
tr.red { background: #fff0f0; }
.tests { font: 12px ui-monospace, monospace; margin: 0; padding: 0; list-style: none; }
.pass { color: #106b21; } .fail, .skip { color: #b00020; font-weight: 700; } .not-run { color: #777; }
.summary { display: flex; gap: 1.5em; flex-wrap: wrap; margin: 1em 0; }
.summary div { padding: .6em 1em; border-radius: 6px; background: #f3f3f3; }
.summary .bad { background: #ffe3e3; color: #b00020; font-weight: 700; }
.summary .good { background: #e3f6e6; color: #106b21; font-weight: 700; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; }
svg text { font: 12px ui-monospace, monospace; }
.met { fill: #2e9b45; } .missed { fill: #c62828; } .none { fill: #8a8a8a; }
.target { stroke: #1b1b1b; stroke-width: 2; stroke-dasharray: 4 2; }
.band { fill: #2e9b45; opacity: .15; }
</style>
</head>
<body>
<h1>Gatehouse control evidence</h1>
<p>Generated {{.Generated.Format "2006-01-02 15:04:05 MST"}} from a <code>go test -json</code> run, against the control catalogue <code>{{.Catalogue}}</code>.
A control is green when at least one test that names it (<code>// Controls:</code> above the test) passed, and none of them failed or was skipped.</p>
<div class="summary">
<div class="{{if .Summary.Red}}bad{{else}}good{{end}}">{{.Summary.Green}} of {{.Summary.Controls}} controls green{{if .Summary.Red}}; red: {{range $i, $id := .Summary.Red}}{{if $i}}, {{end}}{{$id}}{{end}}{{end}}</div>
<div>{{.Summary.Tests}} tests name a control: {{.Summary.Passed}} passed, {{.Summary.Failed}} failed, {{.Summary.Skipped}} skipped</div>
</div>
{{range .Families}}
<h2 id="{{.ID}}">{{.ID}}: {{.Title}}</h2>
<table>
<tr><th style="width:7em">Control</th><th style="width:5em">Status</th><th>Promise</th><th style="width:40%">Tests</th></tr>
{{range .Controls}}<tr id="{{.ID}}" class="{{if .Green}}green{{else}}red{{end}}">
<td><b>{{.ID}}</b></td>
<td class="status">{{if .Green}}&#10004; pass{{else}}&#10008; red{{end}}</td>
<td>{{.Text}}{{if .Reason}}<br><b>{{.Reason}}</b>{{end}}</td>
<td><ul class="tests">{{range .Tests}}<li><span class="{{cls .Result}}">{{.Result}}</span> {{.Name}} <span title="{{.Package}}">({{.File}}:{{.Line}})</span>{{if .Runs}} &times;{{len .Runs}}{{end}}</li>{{end}}</ul></td>
</tr>{{end}}
</table>
{{end}}
<h2 id="ratios">Benchmark ratios against their targets</h2>
{{if .Ratios}}
<p>Each figure is measured against a baseline in the same run, so it does not depend on the machine's speed. The dashed line is the target
(bars are scaled so it sits mid-chart); green meets it, red misses it, grey has no documented target.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 1000 {{.ChartHeight}}" role="img" aria-label="Benchmark ratios against their targets">
{{range .Bars}}<g transform="translate(0,{{.Y}})">
<text x="0" y="16">{{.Label}}</text>
{{if .HasRange}}<rect class="band" x="{{.TargetX | printf "%.1f"}}" y="2" width="{{.BandWidth | printf "%.1f"}}" height="20" transform="translate(560,0)"/>{{end}}
<rect class="{{.Class}}" x="560" y="4" width="{{.Width | printf "%.1f"}}" height="16"/>
{{if .HasRange}}<line class="target" x1="{{.TargetX2 | printf "%.1f"}}" x2="{{.TargetX2 | printf "%.1f"}}" y1="0" y2="24" transform="translate(560,0)"/>{{end}}
{{if .HasTarget}}<line class="target" x1="{{.TargetX | printf "%.1f"}}" x2="{{.TargetX | printf "%.1f"}}" y1="0" y2="24" transform="translate(560,0)"/>{{end}}
<text x="930" y="16">{{.Value}}</text>
</g>{{end}}
</svg>
<table><tr><th>Benchmark</th><th>Metric</th><th>Value</th><th>Target</th><th>Why</th></tr>
{{range .Ratios}}<tr><td>{{.Benchmark}}</td><td>{{.Metric}}</td><td>{{printf "%.3g" .Value}}</td><td>{{if .Min}}&ge; {{printf "%.3g" (num .Min)}} {{end}}{{if .Max}}&le; {{printf "%.3g" (num .Max)}}{{end}}{{if .Met}}{{if yes .Met}} <span class="pass">met</span>{{else}} <span class="fail">missed</span>{{end}}{{end}}</td><td>{{.Why}}</td></tr>
{{end}}</table>
{{else}}<p>No benchmark output was given (<code>--bench</code>).</p>{{end}}
<h2 id="checkpoint">Newest signed checkpoint of the audit log</h2>
{{with .Checkpoint}}
<p>Log <code>{{.Origin}}</code>, <b>{{.Size}}</b> events, root <code>{{b64 .Root}}</code>: the signature verified with the published key
<code>{{.PublicKey}}</code>. Anyone holding this checkpoint can ask the log for a consistency proof to any later one
(<code>GET /auth/audit/consistency?from={{.Size}}</code>) and check it with <code>gatehouse audit verify-proof</code>.</p>
<pre>{{.Note}}</pre>
{{else}}<p>No checkpoint was given (<code>--checkpoint</code> and <code>--public-key</code>).</p>{{end}}
</body>
</html>
`))
