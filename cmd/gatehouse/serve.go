package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/functions/oauthcallback"
	"github.com/gatehouse-dev/gatehouse/functions/rotate"
	"github.com/gatehouse-dev/gatehouse/functions/webhooks"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/notify/devmailbox"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

func newServe() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve all four functions on one local port (127.0.0.1:PORT, PORT default 8080)",
		Long: `Serve mounts the functions under /auth/, /oauth/, /webhooks/ and /rotate on one
port. With no GATEHOUSE_* variables it runs on an embedded SQLite database and a
local key file under ./.gatehouse, and shows sent messages at GET /dev/mailbox.

It listens on 127.0.0.1 only, since /dev/mailbox holds every sign-in, reset
and invitation link it sent; --addr chooses another address (host:port).
In development it prints a local admin token for this run's admin API.`,
		Example: `  gatehouse serve
  PORT=9000 gatehouse serve
  gatehouse serve --addr 0.0.0.0:8080 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", serveAddr(addr, os.Getenv("PORT")))
			if err != nil {
				return err
			}
			if !loopback(ln.Addr()) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: listening on %s, beyond this machine: anyone who reaches it can read /dev/mailbox\n", ln.Addr())
			}
			return serve(cmd.Context(), ln, cmd.OutOrStdout(), jsonFlag(cmd))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "address to listen on, host:port (default 127.0.0.1:$PORT, PORT default 8080)")
	return cmd
}

// serveAddr is the address serve listens on: addr if given, else the
// loopback address with port (8080 if empty).
func serveAddr(addr, port string) string {
	if addr != "" {
		return addr
	}
	if port == "" {
		port = "8080"
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// localDefaults returns the environment lookup of the local server: the
// process environment, where an unset GATEHOUSE_PUBLIC_URL in dev is the
// address the server listens on, so e-mailed links and the issuer name the
// port it actually serves (PORT or --addr), not a fixed 8080. A loopback
// address is named "localhost": browsers refuse passkeys on an IP address.
func localDefaults(addr net.Addr) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok || name != "GATEHOUSE_PUBLIC_URL" {
			return v, ok
		}
		if env := os.Getenv(config.EnvVar); env != "" && env != string(config.EnvDev) {
			return "", false
		}
		tcp, ok := addr.(*net.TCPAddr)
		if !ok {
			return "", false
		}
		host := tcp.IP.String()
		if tcp.IP.IsLoopback() || tcp.IP.IsUnspecified() {
			host = "localhost"
		}
		return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port)), true
	}
}

// loopback reports whether a is a loopback address.
func loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// serve runs the local server on ln until ctx ends. It first writes where
// it serves what to out: lines for people, or one JSON object (asJSON).
func serve(ctx context.Context, ln net.Listener, out io.Writer, asJSON bool) error {
	hookSecret, err := newEventWebhookSecret(rand.Reader)
	if err != nil {
		return err
	}
	d, l, err := bootstrap.FromLookup(ctx, withDevSecret(localDefaults(ln.Addr()), hookSecret))
	if err != nil {
		return err
	}
	defer d.Close()
	if _, set := os.LookupEnv("GATEHOUSE_EVENT_WEBHOOK_SECRET"); set || d.Config.Env.Deployed() || len(d.Config.EventWebhooks) == 0 {
		hookSecret = ""
	}
	authCfg := auth.LoadConfig(l)
	var adminToken string
	if !d.Config.Env.Deployed() {
		if adminToken, err = newAdminToken(d.Rand); err != nil {
			return err
		}
		authCfg.Admin.DevToken = logging.NewSecret(adminToken)
	}
	h, mounts, rot, err := mountAll(d, l, authCfg)
	if err == nil {
		err = l.Err()
	}
	if err != nil {
		return err
	}
	d.StartSequencer()
	loopCtx, stopLoop := context.WithCancel(ctx)
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); sendEventsEvery(loopCtx, rot, devEventsEvery) }()
	defer func() { stopLoop(); <-loopDone }() // before d.Close

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	banner := serveBanner{URL: "http://" + ln.Addr().String(), Mounts: mounts, AdminToken: adminToken, EventWebhookSecret: hookSecret,
		TrustedProxyHops: d.Config.TrustedProxyHops, ClientAddresses: web.ClientIPRule(d.Config.TrustedProxyHops),
		PublicURL: d.Config.PublicURL.String(), Pages: d.Config.PublicURL.JoinPath(auth.UIPath, "signup").String()}
	if err := banner.write(out, asJSON); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			return err
		}
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// serveBanner is what serve says at start.
type serveBanner struct {
	URL        string   `json:"url"`
	Mounts     []string `json:"mounts"`
	AdminToken string   `json:"admin_token,omitempty"` // dev only
	// EventWebhookSecret is the signing secret generated for this run's
	// event webhooks: dev, GATEHOUSE_EVENT_WEBHOOK_URLS set and no secret.
	EventWebhookSecret string `json:"event_webhook_secret,omitempty"`
	TrustedProxyHops   int    `json:"trusted_proxy_hops"`
	ClientAddresses    string `json:"client_addresses"`
	PublicURL          string `json:"public_url"` // GATEHOUSE_PUBLIC_URL, by default this server's address
	Pages              string `json:"pages"`      // the hosted sign-up page, where a quickstart begins
}

func (b serveBanner) write(out io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(out).Encode(b)
	}
	fmt.Fprintf(out, "gatehouse serving on %s\n", b.URL)
	for _, m := range b.Mounts {
		fmt.Fprintf(out, "  %s\n", m)
	}
	fmt.Fprintf(out, "hosted pages (e-mailed links point here; GATEHOUSE_PUBLIC_URL=%s):\n  %s\n", b.PublicURL, b.Pages)
	if b.AdminToken != "" {
		fmt.Fprintf(out, "local admin token (this run only; gatehouse admin reads GATEHOUSE_ADMIN_TOKEN):\n  %s\n", b.AdminToken)
	}
	if b.EventWebhookSecret != "" {
		fmt.Fprintf(out, "event webhook signing secret (this run only; set GATEHOUSE_EVENT_WEBHOOK_SECRET to keep one):\n  %s\n", b.EventWebhookSecret)
	}
	_, err := fmt.Fprintf(out, "client addresses (GATEHOUSE_TRUSTED_PROXY_HOPS=%d): %s\n", b.TrustedProxyHops, b.ClientAddresses)
	return err
}

// newEventWebhookSecret returns a fresh Standard Webhooks secret: whsec_
// and the base64 of 32 random bytes.
func newEventWebhookSecret(rand io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("event webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:]), nil
}

// withDevSecret makes lookup answer GATEHOUSE_EVENT_WEBHOOK_SECRET with
// secret when the variable is unset and the environment is dev, so that
// the rotate function mounted here signs the event webhooks with the
// secret the banner prints.
func withDevSecret(lookup func(string) (string, bool), secret string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := lookup(name)
		if ok || name != "GATEHOUSE_EVENT_WEBHOOK_SECRET" {
			return v, ok
		}
		if env, _ := lookup(config.EnvVar); env != "" && env != string(config.EnvDev) {
			return "", false
		}
		return secret, true
	}
}

// newAdminToken returns a fresh local admin token: 32 random bytes,
// base64url. It authenticates to the admin API of this run only.
func newAdminToken(rand io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// mountAll builds every function on d and mounts it under its prefix; the
// Auth function with authCfg.
// devEventsEvery is how often serve sends due events, where a deployment
// has the gatehouse-events Cloud Scheduler job (every minute).
const devEventsEvery = 2 * time.Second

// sendEventsEvery asks rot for an events run (the outbox task alone:
// Pub/Sub and event webhooks) every interval until ctx ends, as the
// gatehouse-events job does when deployed, so a local receiver gets its
// events without a POST to /rotate. A run reports its own failures.
func sendEventsEvery(ctx context.Context, rot *rotate.Rotator, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, _ = rot.Run(ctx, rotate.Request{ID: fmt.Sprintf("serve-events-%d", n), Actor: "local:serve",
			Message: rotate.Message{Reason: rotate.ReasonEvents}})
	}
}

// mountAll mounts every function on one mux, as the load balancer routes
// them when deployed, and returns the rotate function's Rotator too.
func mountAll(d *bootstrap.Deps, l *config.Loader, authCfg auth.Config) (http.Handler, []string, *rotate.Rotator, error) {
	mux := http.NewServeMux()
	var mounts []string
	mount := func(prefix, what string, h http.Handler, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", prefix, err)
		}
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
		mux.Handle(prefix, http.StripPrefix(prefix, rootPath(h)))
		mounts = append(mounts, fmt.Sprintf("%-10s %s", prefix+"/", what))
		return nil
	}
	authH, err := auth.New(d, authCfg)
	if err := mount("/auth", "Auth function", authH, err); err != nil {
		return nil, nil, nil, err
	}
	// The issuer is the origin (GATEHOUSE_PUBLIC_URL), so OIDC discovery and
	// RFC 8414 look for its metadata at the root; the load balancer routes
	// these two paths to the auth function the same way.
	for _, p := range auth.WellKnownPaths {
		mux.Handle("GET "+p, authH)
	}
	mounts = append(mounts, fmt.Sprintf("%-10s %s", "/.well-known/", "OIDC discovery and RFC 8414 metadata (Auth function)"))
	oauthH, err := oauthcallback.New(d, oauthcallback.LoadConfig(l))
	if err := mount("/oauth", "OAuthCallback function", oauthH, err); err != nil {
		return nil, nil, nil, err
	}
	hooksH, err := webhooks.New(d, webhooks.LoadConfig(l))
	if err := mount("/webhooks", "Webhooks function", hooksH, err); err != nil {
		return nil, nil, nil, err
	}
	rot, err := rotate.New(d, rotate.LoadConfig(l))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("/rotate: %w", err)
	}
	rotH, err := rot.Handler()
	if err := mount("/rotate", "Rotate function (POST a rotation message)", rotH, err); err != nil {
		return nil, nil, nil, err
	}
	if mb, ok := d.Notifier.(*notify.Mailbox); ok {
		mux.Handle("GET /dev/mailbox", devmailbox.MailboxHandler(mb))
		mounts = append(mounts, fmt.Sprintf("%-10s %s", "/dev/mailbox", "development mailbox ("+mb.Path()+")"))
	}
	// Paths outside every mount get the functions' JSON 404 and headers.
	return web.Chain(web.Routes(mux), web.SecurityHeaders), mounts, rot, nil
}

// rootPath serves a mount's bare prefix ("/rotate") as its root ("/").
func rootPath(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/"
		h.ServeHTTP(w, r)
	})
}
