package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/gatehouse-dev/gatehouse/terraform/tfcheck"
)

// The Go Functions Framework buildpack (GoogleCloudPlatform/buildpacks,
// cmd/go/functions_framework/lib) turns an uploaded function source into an
// application, and the test below repeats its steps on the archive:
//
//  1. move the source into serverless_function_source_code/;
//  2. parse the Go files at its root (converter/get_package: one package,
//     its name and imports; test files count too);
//  3. `go list -m` for the module path (its first element must hold a
//     dot); the package to import is the module path itself unless the
//     application root has a directory named after the package;
//  4. `go list -m -f {{.Version}}` of the framework module: empty means
//     the buildpack injects its own version;
//  5. generate functions.local/app/main.go: the declarative template when
//     the root package imports the framework's functions package, else a
//     template calling <package>.<FUNCTION_TARGET>;
//  6. `go mod tidy`, then `go build` of functions.local/app from the
//     source directory (cmd/go/build);
//  7. at run time Cloud Run sets PORT, and FUNCTION_TARGET from the
//     function's entry point (GOOGLE_FUNCTION_TARGET at build time).
const (
	fnSourceDir        = "serverless_function_source_code"
	appModule          = "functions.local/app"
	frameworkModule    = "github.com/GoogleCloudPlatform/functions-framework-go"
	frameworkFunctions = frameworkModule + "/functions"
)

// declarativeMain is the main the buildpack generates for a declarative
// function (lib/template_declarative.go), written out from its description:
// blank-import the function package so its init registers the functions,
// answer 404 on the reserved paths, start the framework on PORT.
var declarativeMain = template.Must(template.New("main").Parse(`package main

import (
	"log"
	"net/http"
	"os"

	_ "{{.}}"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`))

const repoRoot = "../.."

// The archive the pipeline uploads builds as Cloud Run builds it, and the
// binary serves each function Terraform deploys: started with that
// function's FUNCTION_TARGET, it answers GET /healthz with 200.
//
// Controls: INFRA-9
func TestArchiveBuildsAndStartsLikeCloudRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions from the archive")
	}
	var buf bytes.Buffer
	if err := writeArchive(&buf, repoRoot); err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	src := filepath.Join(app, fnSourceDir)
	unzip(t, buf.Bytes(), src)

	pkgName, imports := rootPackage(t, src)
	module := strings.TrimSpace(goCmd(t, src, "list", "-m"))
	if first, _, _ := strings.Cut(module, "/"); !strings.Contains(first, ".") {
		t.Fatalf("module path %q: the buildpack needs a dot in its first element", module)
	}
	fnPackage := module
	if fi, err := os.Stat(filepath.Join(app, pkgName)); err == nil && fi.IsDir() {
		fnPackage = module + "/" + pkgName
	}
	if v := strings.TrimSpace(goCmd(t, src, "list", "-m", "-f", "{{.Version}}", frameworkModule)); v == "" {
		t.Fatal("go.mod does not require the Functions Framework: the buildpack would inject a version of its own")
	}
	if !slices.Contains(imports, frameworkFunctions) {
		t.Fatalf("the root package does not import %s: the buildpack would generate a main calling %s.<FUNCTION_TARGET>", frameworkFunctions, pkgName)
	}
	mainDir := filepath.Join(src, appModule)
	if err := os.MkdirAll(mainDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var mainGo bytes.Buffer
	if err := declarativeMain.Execute(&mainGo, fnPackage); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mainDir, "main.go"), mainGo.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd(t, src, "mod", "tidy")
	bin := filepath.Join(app, "function")
	goCmd(t, src, "build", "-o", bin, mainDir)

	for _, target := range entryPoints(t) {
		t.Run(target, func(t *testing.T) {
			if code := serveHealth(t, bin, target); code != http.StatusOK {
				t.Fatalf("FUNCTION_TARGET=%s: GET /healthz answered %d, want 200", target, code)
			}
		})
	}
}

// entryPoints returns the entry point of every function Terraform deploys.
func entryPoints(t *testing.T) []string {
	t.Helper()
	c, err := tfcheck.Load(filepath.Join(repoRoot, "terraform"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range c.ModuleCalls("function") {
		v, ok := c.String(b, "entry_point")
		if !ok {
			t.Fatalf("%s: entry_point is not a literal", b.Where())
		}
		out = append(out, v)
	}
	slices.Sort(out)
	if len(out) != 4 {
		t.Fatalf("entry points %v, want the four functions", out)
	}
	return out
}

func unzip(t *testing.T, data []byte, dst string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, dst+string(filepath.Separator)) {
			t.Fatalf("archive entry %q leaves the directory", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		// go.mod must be writable: the buildpack refuses a read-only one.
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rootPackage parses the Go files at the root of src as get_package does.
func rootPackage(t *testing.T, src string) (string, []string) {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), src, nil, parser.ImportsOnly) //nolint:staticcheck // the buildpack's own call
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 1 {
		t.Fatalf("%d packages at the archive root, the buildpack needs exactly one", len(pkgs))
	}
	for name, p := range pkgs {
		var imports []string
		for _, f := range p.Files {
			for _, im := range f.Imports {
				imports = append(imports, strings.Trim(im.Path.Value, `"`))
			}
		}
		return name, imports
	}
	return "", nil
}

// goCmd runs the go command in dir with a clean build environment and
// returns its standard output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// serveHealth starts the function binary as Cloud Run would (PORT and
// FUNCTION_TARGET; a dev configuration on SQLite, since nothing else is
// here) and returns the status of GET /healthz.
func serveHealth(t *testing.T, bin, target string) int {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(cleanEnv(), "PORT="+port, "FUNCTION_TARGET="+target,
		"GATEHOUSE_ENV=dev", "GATEHOUSE_DATA_DIR="+t.TempDir(), "GATEHOUSE_LOG_LEVEL=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	url := "http://127.0.0.1:" + port + "/healthz"
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("FUNCTION_TARGET=%s exited before serving: %v\n%s", target, err, logs.String())
		case <-ctx.Done():
			t.Fatalf("FUNCTION_TARGET=%s did not answer in time\n%s", target, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		resp.Body.Close()
		return resp.StatusCode
	}
}

// cleanEnv is the test's environment without Gatehouse, Functions
// Framework or Cloud Run variables.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GATEHOUSE_") || strings.HasPrefix(name, "FUNCTION_") || strings.HasPrefix(name, "K_") || name == "PORT" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}
