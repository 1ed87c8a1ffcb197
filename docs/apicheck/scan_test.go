package apicheck

import (
	"go/token"
	"slices"
	"testing"
)

func TestScanPackage(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		want       []string
		unresolved int
	}{
		{"literal", `mux.Handle("POST /login", h)`, []string{"POST /login"}, 0},
		{"HandleFunc", `mux.HandleFunc("GET /x/{id}", f)`, []string{"GET /x/{id}"}, 0},
		{"raw string", "mux.Handle(`DELETE /me`, h)", []string{"DELETE /me"}, 0},
		{"constant", `mux.Handle(routeMe, h)`, []string{"GET /me"}, 0},
		{"concatenated constants", `mux.Handle("GET " + prefix + "/y", h)`, []string{"GET /v1/y"}, 0},
		{"constant of a constant", `mux.Handle(alias, h)`, []string{"GET /me"}, 0},
		{"variable", `p := "GET /v"; mux.Handle(p, h)`, nil, 1},
		{"other package constant", `mux.Handle(routes.Login, h)`, nil, 1},
		{"call", `mux.Handle(pattern(), h)`, nil, 1},
		{"constant cycle", `mux.Handle(loopA, h)`, nil, 1},
		{"other arity", `h.Handle(ctx, r, x); mux.Handle("GET /ok", h)`, []string{"GET /ok"}, 0},
		{"other method name", `mux.Register("GET /no", h)`, nil, 0},
	}
	const decls = "package p\n" +
		"const routeMe = \"GET /me\"\nconst prefix = \"/v1\"\nconst alias = routeMe\n" +
		"const (\n\tloopA = loopB\n\tloopB = loopA\n)\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{
				"consts.go": []byte(decls),
				"routes.go": []byte("package p\nfunc routes() {\n" + tt.src + "\n}\n"),
			}
			res, err := scanPackage(token.NewFileSet(), files)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res.Routes {
				got = append(got, r.Pattern)
			}
			if !slices.Equal(got, tt.want) || len(res.Unresolved) != tt.unresolved {
				t.Errorf("routes %q, %d unresolved; want %q, %d", got, len(res.Unresolved), tt.want, tt.unresolved)
			}
		})
	}
}

func TestDocumentedPath(t *testing.T) {
	tests := []struct {
		name, mount, pattern string
		method, path         string
		wantErr              bool
	}{
		{"plain", "/auth", "POST /login", "POST", "/auth/login", false},
		{"wildcard", "/oauth", "GET /connect/{platform}", "GET", "/oauth/connect/{platform}", false},
		{"root of the function", "/rotate", "POST /{$}", "POST", "/rotate", false},
		{"exact trailing slash", "/m", "GET /x/{$}", "GET", "/m/x/", false},
		{"no method", "/auth", "/login", "", "", true},
		{"lower-case method", "/auth", "get /login", "", "", true},
		{"host", "/auth", "GET example.com/login", "", "", true},
		{"rest wildcard", "/auth", "GET /files/{path...}", "", "", true},
		{"subtree", "/auth", "GET /static/", "", "", true},
		{"everything", "/auth", "GET /", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, p, err := documentedPath(tt.mount, tt.pattern)
			if (err != nil) != tt.wantErr || m != tt.method || p != tt.path {
				t.Errorf("documentedPath(%q, %q) = %q, %q, %v; want %q, %q, error %v",
					tt.mount, tt.pattern, m, p, err, tt.method, tt.path, tt.wantErr)
			}
		})
	}
}
