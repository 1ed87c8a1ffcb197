package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/argon2"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/password"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
)

// Floors of the load benchmark (issue 15; docs/scaling.md).
const (
	signinFloor  = 0.9  // sign-ins/s over raw Argon2id hashes/s on the same cores
	refreshFloor = 1000 // refreshes/s at 4 clients
	meFloor      = 4000 // GET /me/s at 16 clients
)

// benchOptions are the flags of `gatehouse bench`.
type benchOptions struct {
	db         string
	duration   time.Duration
	goMemLimit string
	slots      int
	memBound   int // MiB
	burst      int
	keep       bool
}

func newBench() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test sign-in, refresh and GET /me against a server on PostgreSQL",
		Long: `Bench migrates a fresh schema on the PostgreSQL server --db names (default
GATEHOUSE_BENCH_DATABASE_URL, else GATEHOUSE_TEST_DATABASE_URL), starts this
binary's serve on it as a child process with the auth function's deployed
memory settings (GOMEMLIMIT, hashing slots), and drives it over HTTP with
closed-loop clients: password sign-in (4 clients), 200 sign-ins at once
(the server's peak memory), refresh-token rotation (4 clients) and GET /me
(16 clients). It prints requests/s, p50 and p99 and each figure's ratio to
its floor, measured in the same run: sign-in against raw Argon2id hashing
on the same cores (floor 0.9), refresh against 1,000/s, GET /me against
4,000/s. The client shares the machine with the server. It exits non-zero
only when something fails, never on a figure below its floor. Its report is
for people: --json is not supported.`,
		Example: `  GATEHOUSE_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable gatehouse bench
  gatehouse bench --db postgres://bench@10.0.0.5/bench --duration 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jsonFlag(cmd) {
				return errors.New("bench prints a report for people; --json is not supported")
			}
			if o.db == "" {
				o.db = cmp(os.Getenv("GATEHOUSE_BENCH_DATABASE_URL"), os.Getenv("GATEHOUSE_TEST_DATABASE_URL"))
			}
			if o.db == "" {
				return errors.New("bench: no PostgreSQL server: pass --db or set GATEHOUSE_BENCH_DATABASE_URL")
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.db, "db", "", "PostgreSQL URL of a role that may create schemas")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measured phase")
	// The auth function's settings as terraform/modules/gatehouse sets them (auth_env).
	f.StringVar(&o.goMemLimit, "gomemlimit", "128MiB", "the server's GOMEMLIMIT")
	f.IntVar(&o.slots, "hash-slots", 2, "the server's GATEHOUSE_PASSWORD_MAX_CONCURRENT")
	f.IntVar(&o.memBound, "memory-bound", 256, "documented peak resident memory (MiB) of the server under the burst")
	f.IntVar(&o.burst, "burst", 200, "concurrent sign-ins of the memory phase")
	f.BoolVar(&o.keep, "keep-schema", false, "keep the benchmark schema")
	return cmd
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func runBench(ctx context.Context, out io.Writer, o benchOptions) error {
	schema, dbURL, drop, err := benchSchema(ctx, o.db)
	if err != nil {
		return err
	}
	if !o.keep {
		defer drop()
	}
	srv, err := startServer(ctx, dbURL, o)
	if err != nil {
		return err
	}
	defer srv.stop()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "gatehouse bench: schema %s, GOMAXPROCS %d, server GOMEMLIMIT %s, %d hashing slots, load average %s\n",
		schema, runtime.GOMAXPROCS(0), o.goMemLimit, o.slots, strings.Join(strings.Fields(string(load))[:3], " "))
	c := &benchClient{base: srv.base, http: &http.Client{Timeout: 5 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}}}

	// Accounts: one per 10 sign-ins (the per-account limit), for the
	// measured phase, the burst, and two for the sessions of the refresh
	// and GET /me phases (4 + 16 sign-ins).
	signins := max(40, int(o.duration.Seconds()*100))
	nSignin, nBurst := ceilDiv(signins, signinsPerAccount), ceilDiv(o.burst, signinsPerAccount)
	accounts, err := c.accounts(ctx, nSignin+nBurst+3)
	if err != nil {
		return err
	}
	raw := rawArgon2(o.duration / 2)
	var next atomic.Int64
	r := closedLoop(ctx, 4, signins, o.duration, func(ctx context.Context, _, _ int) error {
		return c.signIn(ctx, accounts[(next.Add(1)-1)/signinsPerAccount])
	})
	raw = (raw + rawArgon2(o.duration/2)) / 2 // before and after: drift hits both alike
	if err := failures("sign-in", r); err != nil {
		return err
	}
	fmt.Fprintf(out, "raw Argon2id (x/crypto IDKey, m=19456 t=2 p=1, %d goroutines, before and after): %.1f hashes/s\n",
		runtime.GOMAXPROCS(0), raw)
	fmt.Fprintf(out, "sign-ins/s over raw hashes/s: %.2f\n\n%s\n", r.rate()/raw, header)
	fmt.Fprintln(out, row("POST /auth/login", 4, r, fmt.Sprintf("%.1f x raw = %.1f/s", signinFloor, signinFloor*raw),
		r.rate()/(signinFloor*raw)))

	peak, b, err := c.burst(ctx, srv, accounts[nSignin:nSignin+nBurst], o.burst)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, row(fmt.Sprintf("%d sign-ins at once", o.burst), o.burst, b, "memory: see below", 0))

	sessions := accounts[nSignin+nBurst:]
	chains := make([]string, 4)
	for i := range chains {
		if chains[i], _, err = c.session(ctx, sessions[0]); err != nil {
			return err
		}
	}
	var mu sync.Mutex
	r = closedLoop(ctx, 4, 0, o.duration, func(ctx context.Context, client, _ int) error {
		mu.Lock()
		rt := chains[client]
		mu.Unlock()
		next, err := c.refresh(ctx, rt)
		mu.Lock()
		chains[client] = next
		mu.Unlock()
		return err
	})
	if err := failures("refresh", r); err != nil {
		return err
	}
	fmt.Fprintln(out, row("POST /auth/token", 4, r, fmt.Sprintf("%d/s", refreshFloor), r.rate()/refreshFloor))

	access := make([]string, 16)
	for i := range access {
		if _, access[i], err = c.session(ctx, sessions[1+i/signinsPerAccount]); err != nil {
			return err
		}
	}
	r = closedLoop(ctx, 16, 0, o.duration, func(ctx context.Context, client, _ int) error {
		return c.me(ctx, access[client])
	})
	if err := failures("GET /me", r); err != nil {
		return err
	}
	fmt.Fprintln(out, row("GET /auth/me", 16, r, fmt.Sprintf("%d/s", meFloor), r.rate()/meFloor))
	fmt.Fprintf(out, "\nserver peak resident memory (through setup and %d sign-ins at once): %d MiB; documented bound %d MiB; ratio %.2f\n",
		o.burst, peak>>20, o.memBound, float64(peak>>20)/float64(o.memBound))
	load, _ = os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "load average after: %s\n", strings.Join(strings.Fields(string(load))[:3], " "))
	return nil
}

func failures(what string, r loadResult) error {
	if r.failed > 0 || r.n == 0 {
		return fmt.Errorf("bench %s: %d of %d requests failed: %v", what, r.failed, r.n+r.failed, r.firstErr)
	}
	return nil
}

// rawArgon2 returns x/crypto's Argon2id hashes/s with the default
// parameters, one goroutine per core, over d and at least 4 hashes each.
func rawArgon2(d time.Duration) float64 {
	p := password.DefaultParams
	var n int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			salt := make([]byte, 16)
			for i := 0; i < 4 || time.Since(start) < d; i++ {
				argon2.IDKey([]byte("correct horse battery staple"), salt, p.Time, p.Memory, p.Threads, 32)
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// benchSchema creates and migrates a fresh schema and returns the URL
// that uses it and the function that drops it.
func benchSchema(ctx context.Context, base string) (string, string, func(), error) {
	var b [6]byte
	rand.Read(b[:])
	schema := "bench_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", "", nil, fmt.Errorf("bench: connect to PostgreSQL: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", "", nil, fmt.Errorf("bench: create schema: %w", err)
	}
	drop := func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
			c.Close(context.Background())
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", "", nil, errors.New("bench: the database URL must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, postgres.Options{URL: u.String()})
	if err == nil {
		_, err = db.Migrate(ctx, "")
		db.Close()
	}
	if err != nil {
		drop()
		return "", "", nil, fmt.Errorf("bench: migrate: %w", err)
	}
	return schema, u.String(), drop, nil
}

// server is the child `gatehouse serve`.
type server struct {
	cmd  *exec.Cmd
	base string
	logs *bytes.Buffer
	dir  string
}

func startServer(ctx context.Context, dbURL string, o benchOptions) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	s := &server{cmd: exec.CommandContext(ctx, exe, "serve"), base: "http://127.0.0.1:" + port, logs: &bytes.Buffer{}, dir: dir}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOGC=") {
			env = append(env, kv)
		}
	}
	s.cmd.Env = append(env, "PORT="+port, "GATEHOUSE_ENV=dev", "GATEHOUSE_DB_URL="+dbURL, "GATEHOUSE_DATA_DIR="+dir,
		"GATEHOUSE_LOG_LEVEL=error", "GATEHOUSE_TRUSTED_PROXY_HOPS=1", "GOMEMLIMIT="+o.goMemLimit, "GATEHOUSE_PASSWORD_MAX_CONCURRENT="+strconv.Itoa(o.slots))
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(s.base + "/auth/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || s.cmd.ProcessState != nil {
			s.stop()
			return nil, fmt.Errorf("bench: server did not start: %s", s.logs)
		}
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

// peakRSS returns the server's peak resident memory so far (VmHWM).
func (s *server) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// signinsPerAccount stays within the sign-in limits of one account (and
// its own network and device): 10 per 10 minutes.
const signinsPerAccount = 10

// account is a registered user with its own network and device.
type account struct {
	email, network, device string
}

const benchPassword = "lapwing fjord mulberry"

type benchClient struct {
	base string
	http *http.Client
}

// post sends a JSON body from acct's network and device, returning the
// status, body and the device cookie set.
func (c *benchClient) post(ctx context.Context, path string, body any, a *account, hdr ...string) (int, []byte, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if a != nil {
		req.Header.Set("X-Forwarded-For", a.network)
		if a.device != "" {
			req.AddCookie(&http.Cookie{Name: "__Host-gatehouse-device", Value: a.device})
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if a != nil {
		for _, ck := range resp.Cookies() {
			if ck.Name == "__Host-gatehouse-device" && a.device == "" {
				a.device = ck.Value
			}
		}
	}
	return resp.StatusCode, b, err
}

// accounts registers n accounts, each from a network of its own.
func (c *benchClient) accounts(ctx context.Context, n int) ([]*account, error) {
	out := make([]*account, n)
	for i := range out {
		a := &account{email: fmt.Sprintf("bench%d@example.com", i), network: fmt.Sprintf("10.%d.%d.1", i/250, i%250)}
		if st, b, err := c.post(ctx, "/auth/register", map[string]string{"email": a.email}, a); err != nil || st != http.StatusAccepted {
			return nil, fmt.Errorf("bench: register: %d %s %v", st, b, err)
		}
		tok, err := c.mailToken(ctx, a.email)
		if err != nil {
			return nil, err
		}
		st, b, err := c.post(ctx, "/auth/register/confirm", map[string]string{"token": tok, "password": benchPassword, "name": "Bench"}, a)
		if err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("bench: confirm: %d %s %v", st, b, err)
		}
		out[i] = a
	}
	return out, nil
}

// mailToken returns the token of the newest verification e-mail to email.
func (c *benchClient) mailToken(ctx context.Context, email string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/dev/mailbox", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var msgs []notify.Message
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		return "", fmt.Errorf("bench: read mailbox: %w", err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == email && msgs[i].Kind == notify.KindEmailVerification && len(msgs[i].Links) == 1 {
			if _, tok, ok := strings.Cut(msgs[i].Links[0], "#token="); ok {
				return tok, nil
			}
		}
	}
	return "", fmt.Errorf("bench: no verification e-mail to %s", email)
}

type benchTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (c *benchClient) signIn(ctx context.Context, a *account) error {
	_, _, err := c.login(ctx, a)
	return err
}

func (c *benchClient) login(ctx context.Context, a *account) (string, string, error) {
	st, b, err := c.post(ctx, "/auth/login", map[string]string{"email": a.email, "password": benchPassword}, a)
	if err != nil {
		return "", "", err
	}
	var tk benchTokens
	if st != http.StatusOK || json.Unmarshal(b, &tk) != nil || tk.AccessToken == "" {
		return "", "", fmt.Errorf("sign-in: %d %s", st, b)
	}
	return tk.RefreshToken, tk.AccessToken, nil
}

// session signs a in and returns its refresh and access tokens.
func (c *benchClient) session(ctx context.Context, a *account) (string, string, error) {
	return c.login(ctx, a)
}

func (c *benchClient) refresh(ctx context.Context, rt string) (string, error) {
	st, b, err := c.post(ctx, "/auth/token", map[string]string{"refresh_token": rt}, nil)
	if err != nil {
		return rt, err
	}
	var tk benchTokens
	if st != http.StatusOK || json.Unmarshal(b, &tk) != nil || tk.RefreshToken == "" {
		return rt, fmt.Errorf("refresh: %d %s", st, b)
	}
	return tk.RefreshToken, nil
}

func (c *benchClient) me(ctx context.Context, access string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /me: %d %s", resp.StatusCode, b)
	}
	return nil
}

// burst sends n sign-ins at once (10 per account) and returns the
// server's peak resident memory afterwards.
func (c *benchClient) burst(ctx context.Context, s *server, accts []*account, n int) (int64, loadResult, error) {
	if len(accts)*signinsPerAccount < n {
		return 0, loadResult{}, fmt.Errorf("bench: %d accounts cannot sign in %d times", len(accts), n)
	}
	r := closedLoop(ctx, n, n, 10*time.Minute, func(ctx context.Context, client, _ int) error {
		return c.signIn(ctx, accts[client/signinsPerAccount])
	})
	if err := failures("burst", r); err != nil {
		return 0, r, err
	}
	peak, err := s.peakRSS()
	return peak, r, err
}
