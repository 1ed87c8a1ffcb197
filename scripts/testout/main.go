// Command testout reads `go test -json` on standard input, copies it to
// the file named by its argument and prints what `go test` would have
// printed without -json: each package's summary line and the output of
// every failed test. scripts/test pipes the test run through it, so CI
// keeps its readable log and the JSON `gatehouse evidence` reads.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is the part of a test2json event testout uses.
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ... | testout FILE")
		os.Exit(2)
	}
	out, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "testout:", err)
		os.Exit(1)
	}
	if err := run(os.Stdin, out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testout:", err)
		os.Exit(1)
	}
	if err := out.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "testout:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, copyTo io.Writer, human io.Writer) error {
	held := map[string]*strings.Builder{} // output of running tests, by package and test
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if _, err := copyTo.Write(append(line, '\n')); err != nil {
			return err
		}
		var e event
		if json.Unmarshal(line, &e) != nil {
			fmt.Fprintln(human, string(line)) // not JSON: a build error, say
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(human, e.Output)
		case e.Test == "" && e.Action == "output":
			if o := e.Output; o != "PASS\n" && !strings.HasPrefix(o, "=== ") {
				fmt.Fprint(human, o)
			}
		case e.Action == "output":
			b := held[key]
			if b == nil {
				b = &strings.Builder{}
				held[key] = b
			}
			b.WriteString(e.Output)
		case e.Action == "fail" && e.Test != "":
			if b := held[key]; b != nil {
				fmt.Fprint(human, b.String())
			}
			delete(held, key)
		case e.Action == "pass" || e.Action == "skip":
			delete(held, key)
		}
	}
	return sc.Err()
}
