// Package configdoc renders the configuration tables of README.md and the
// guides from the declarations in shared/config (and the rate limits of
// shared/ratelimit), so a documented variable cannot drift from the code.
// Each table sits between "<!-- config-table:GROUP:start -->" and
// "<!-- config-table:GROUP:end -->" in its guide. Regenerate with:
//
//	go test ./docs/configdoc -update
package configdoc

import (
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/config"
)

// Table renders vars as a Markdown table.
func Table(vars []config.Variable) string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Secret | Meaning |\n|---|---|---|---|\n")
	for _, v := range vars {
		secret := ""
		if v.Secret {
			secret = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, code(v.Default), secret, escape(v.Doc))
	}
	return b.String()
}

// code puts a literal default in backticks and leaves a description alone.
func code(s string) string {
	if s == "" || strings.Contains(s, " ") {
		return escape(s)
	}
	return "`" + s + "`"
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Markers returns the lines that open and close group's table.
func Markers(group string) (start, end string) {
	return "<!-- config-table:" + group + ":start -->", "<!-- config-table:" + group + ":end -->"
}

// Replace returns doc with group's table replaced by table; ok is false when
// doc lacks the markers.
func Replace(doc, group, table string) (string, bool) {
	start, end := Markers(group)
	i := strings.Index(doc, start)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return doc, false
	}
	return doc[:i+len(start)] + "\n" + table + doc[j:], true
}
