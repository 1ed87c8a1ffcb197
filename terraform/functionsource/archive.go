package main

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// sourceDirs are the trees the functions compile from. cmd/ and terraform/
// stay out: the functions import neither.
var sourceDirs = []string{"functions", "shared"}

// archiveFiles returns, sorted, the slash-separated paths under root that
// go into the archive: go.mod, go.sum, the root package's Go files and
// everything under sourceDirs except tests, testdata and dot files.
func archiveFiles(root string) ([]string, error) {
	fsys := os.DirFS(root)
	files := []string{"go.mod", "go.sum"}
	rootGo, err := fs.Glob(fsys, "*.go")
	if err != nil {
		return nil, err
	}
	for _, f := range rootGo {
		if !strings.HasSuffix(f, "_test.go") {
			files = append(files, f)
		}
	}
	for _, dir := range sourceDirs {
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if name == "testdata" || strings.HasPrefix(name, ".") {
					return fs.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || !d.Type().IsRegular() {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
	}
	slices.Sort(files)
	return files, nil
}

// archiveTime is every entry's modification time, so the same tree gives
// the same bytes.
var archiveTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// writeArchive writes the zip of [archiveFiles] to w.
func writeArchive(w io.Writer, root string) error {
	files, err := archiveFiles(root)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, name := range files {
		if err := addFile(zw, root, name); err != nil {
			return err
		}
	}
	return zw.Close()
}

func addFile(zw *zip.Writer, root, name string) error {
	src, err := os.Open(path.Join(root, name))
	if err != nil {
		return err
	}
	defer src.Close()
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: archiveTime}
	hdr.SetMode(0o644)
	dst, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	return err
}
