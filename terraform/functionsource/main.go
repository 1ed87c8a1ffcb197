// Command functionsource writes the source archive Cloud Build uploads for
// the four Cloud Run functions: go.mod, go.sum, the root package (which
// imports the functions), functions/ and shared/, without tests or test
// data. Cloud Run builds it with the Go Functions Framework buildpack;
// buildpack_test.go builds and starts this same archive as that buildpack
// does.
//
//	go run ./terraform/functionsource -o source.zip
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "source.zip", "archive to write")
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := writeFile(*out, *root); err != nil {
		fmt.Fprintln(os.Stderr, "functionsource:", err)
		os.Exit(1)
	}
}

func writeFile(out, root string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := writeArchive(f, root); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
