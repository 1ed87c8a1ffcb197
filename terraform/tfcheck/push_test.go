package tfcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/zclconf/go-cty/cty"

	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// pushEndpointPath returns the path of the rotation push subscription's
// endpoint as Terraform builds it.
func pushEndpointPath(t *testing.T, c *Config) string {
	t.Helper()
	var sub *Block
	for _, b := range c.Resources("google_pubsub_subscription") {
		if b.label(1) == "rotate_push" {
			sub = b
		}
	}
	if sub == nil {
		t.Fatal("no rotate_push subscription")
	}
	modules := moduleStandIns(t, c, sub.Dir, "p-project", "europe-west1", "prod")
	modules["rotate"] = cty.ObjectVal(map[string]cty.Value{"service_uri": cty.StringVal("https://rotate-abc123-ew.a.run.app")})
	v, err := c.NewScope(sub.Dir, map[string]cty.Value{"project_id": cty.StringVal("p-project")}, modules).
		EvalAttr(sub, "push_config", "push_endpoint")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := asString(v)
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// What the rotation subscription pushes (a Pub/Sub push request carrying
// the Scheduler's message, at the endpoint path Terraform configures)
// reaches the deployed Rotate entry point through the Functions Framework
// as a CloudEvent it runs: the run is recorded under the message id.
//
// Controls: CRED-8
func TestRotationPushRunsRotate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the Functions Framework and runs a rotation")
	}
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	var job *Block
	for _, b := range c.Resources("google_cloud_scheduler_job") {
		if schedulerReason(c, b) == "schedule" {
			job = b
		}
	}
	if job == nil {
		t.Fatal("no scheduler job asks for rotation runs")
	}
	data, err := SchedulerMessage(c, job)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := rotateServer()
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(time.Now().UnixNano()) // a new message on every -count
	body, _ := json.Marshal(map[string]any{
		"message": map[string]any{"data": data, "messageId": id, "publishTime": time.Now().UTC().Format(time.RFC3339Nano),
			"attributes": map[string]string{}},
		"subscription": "projects/p-project/subscriptions/rotation-rotate-push",
	})
	resp, err := http.Post("http://"+srv.addr+pushEndpointPath(t, c), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push answered %d: Pub/Sub would redeliver", resp.StatusCode)
	}
	s, err := sqlite.Open(t.Context(), filepath.Join(srv.dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events, err := s.AuditEvents(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action+" "+e.Target)
		if e.Action == "rotate.run" && e.Target == "pubsub:"+id {
			return
		}
	}
	t.Fatalf("no rotate.run for message %s; audit events: %v", id, actions)
}

// functionsServer is the Functions Framework serving Rotate, on a local
// port, as a dev instance with its data in dir.
type functionsServer struct{ addr, dir string }

// rotateServer starts the server once per test binary: the framework and
// the function's lazily built instance are process-wide, so a second start
// would reuse the first instance. It sets the process environment the
// instance reads (no other test of the package reads it).
var rotateServer = sync.OnceValues(func() (functionsServer, error) {
	dir, err := os.MkdirTemp("", "gatehouse-rotate-push-")
	if err != nil {
		return functionsServer{}, err
	}
	for k, v := range map[string]string{"FUNCTION_TARGET": "Rotate", "GATEHOUSE_ENV": "dev",
		"GATEHOUSE_DATA_DIR": dir, "GATEHOUSE_LOG_LEVEL": "error"} {
		if err := os.Setenv(k, v); err != nil {
			return functionsServer{}, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return functionsServer{}, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	go func() { _ = funcframework.StartHostPort("127.0.0.1", fmt.Sprint(port)) }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for range 100 {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return functionsServer{addr: addr, dir: dir}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return functionsServer{}, errors.New("the Functions Framework did not start")
})
