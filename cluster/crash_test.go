package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// natsServerEnv, when set, makes the test binary a NATS server (childServer)
// instead of running tests, so that a test can SIGKILL a server process.
const natsServerEnv = "GK_TEST_NATS_SERVER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(natsServerEnv); spec != "" {
		childServer(spec)
		return
	}
	os.Exit(m.Run())
}

// serverSpec is what a child server runs: Embed(Name, Conf).
type serverSpec struct {
	Name string
	Conf config.EmbeddedNATS
}

// childServer runs the embedded server of spec, says "ready" on stdout, and
// serves until SIGTERM (or until it is killed).
func childServer(spec string) {
	var s serverSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Println("bad spec:", err)
		os.Exit(2)
	}
	srv, err := Embed(s.Name, s.Conf)
	if err != nil {
		fmt.Println("embed:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	<-term
	srv.Shutdown()
	srv.WaitForShutdown()
}

// processCluster is three NATS servers, each its own process, and a
// gatekeeper node with its own registry on each, in this process.
type processCluster struct {
	specs  []serverSpec
	procs  []*exec.Cmd
	stores []*registry.Store
	nodes  []*Node
}

// startProcess starts server i's process and waits until it takes connections.
func (pc *processCluster) startProcess(t *testing.T, i int) {
	t.Helper()
	spec, _ := json.Marshal(pc.specs[i])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), natsServerEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pc.procs[i] = cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	said := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		said <- strings.TrimSpace(line)
		rest := bufio.NewScanner(out) // drain, so that the child never blocks on a full pipe
		for rest.Scan() {
		}
	}()
	select {
	case line := <-said:
		if line != "ready" {
			t.Fatalf("server %s: %s", pc.specs[i].Name, line)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("server %s did not start within 20 s", pc.specs[i].Name)
	}
}

func startProcessCluster(t *testing.T) *processCluster {
	t.Helper()
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	pc := &processCluster{procs: make([]*exec.Cmd, 3)}
	for i := range 3 {
		pc.specs = append(pc.specs, serverSpec{Name: fmt.Sprintf("nats-%d", i), Conf: config.EmbeddedNATS{
			Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), RoutesListen: fmt.Sprintf("127.0.0.1:%d", ports[3+i]),
			Routes: routes, StoreDir: t.TempDir()}})
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { pc.startProcess(t, i) })
	}
	wg.Wait()
	for i := range 3 {
		store, err := registry.Open(registry.DefaultOptions(filepath.Join(t.TempDir(), "data")))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		pc.stores = append(pc.stores, store)
		n, err := Open(t.Context(), Options{Node: fmt.Sprintf("gk-%d", i), URLs: pc.urls(i), Replicas: 3, Sink: store,
			Cursor: filepath.Join(t.TempDir(), "cluster.cursor")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		select {
		case <-n.CaughtUp():
		case <-time.After(20 * time.Second):
			t.Fatalf("node %d did not catch up within 20 s", i)
		}
		pc.nodes = append(pc.nodes, n)
	}
	return pc
}

// urls are the client URLs, server i's first.
func (pc *processCluster) urls(i int) []string {
	var urls []string
	for j := range 3 {
		urls = append(urls, "nats://"+pc.specs[(i+j)%3].Conf.Listen)
	}
	return urls
}

// streamLeader asks for the stream's leader and its replicas' state.
func streamLeader(ctx context.Context, n *Node, stream string) (string, []Peer, error) {
	s, err := n.js.Stream(ctx, stream)
	if err != nil {
		return "", nil, err
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return "", nil, errors.New("no cluster info")
	}
	var peers []Peer
	for _, p := range info.Cluster.Replicas {
		peers = append(peers, Peer{Name: p.Name, Current: p.Current, Lag: p.Lag})
	}
	return info.Cluster.Leader, peers, nil
}

// TestSIGKILLOfANATSServerLosesNoAcknowledgedOptOut records opt-outs
// through three nodes at once while the NATS server leading the opt-out
// bucket (R3, sync always) is SIGKILLed: every opt-out whose write the
// cluster acknowledged, before the kill or after it (the writes go on until
// some are), is then in every node's registry, and in the killed
// server's own copy once it is back (read from it as the bucket's leader).
func TestSIGKILLOfANATSServerLosesNoAcknowledgedOptOut(t *testing.T) {
	pc := startProcessCluster(t)
	leader, _, err := streamLeader(t.Context(), pc.nodes[0], "KV_"+optOutBucket)
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	for i, s := range pc.specs {
		if s.Name == leader {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("the opt-out bucket's leader %q is none of the servers", leader)
	}

	var mu sync.Mutex
	var acked []string
	var ackedAt []time.Time
	failed := 0
	var firstFail, lastFail time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, area := range []string{"303", "720", "970"} {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				e164 := fmt.Sprintf("+1%s555%04d", area, k)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				_, err := pc.nodes[w].ChangeLive(ctx, optOut("tester", e164))
				cancel()
				mu.Lock()
				// ErrNoAnswer: the bucket acknowledged the write; this node had
				// not applied it yet.
				if err == nil || errors.Is(err, ErrNoAnswer) {
					acked = append(acked, e164)
					ackedAt = append(ackedAt, time.Now())
				} else {
					failed++
					if firstFail.IsZero() {
						firstFail = time.Now()
					}
					lastFail = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	// How long some node could not prove its copy current (default
	// staleness), logged: the loss of one server of three should not stop calls.
	var unproven time.Duration
	wg.Go(func() {
		for tick := time.NewTicker(50 * time.Millisecond); ; {
			select {
			case <-stop:
				tick.Stop()
				return
			case <-tick.C:
			}
			for _, n := range pc.nodes {
				if !n.Current() {
					mu.Lock()
					unproven += 50 * time.Millisecond
					mu.Unlock()
					break
				}
			}
		}
	})
	// The writes go on for a second and until 30 are acknowledged before
	// the kill, and for 8 s and until 10 are acknowledged after it. A
	// loaded machine's fsyncs may let only a few through in a second, and
	// the writes in flight at the kill wait out their 10 s.
	waitAcked := func(from time.Time, n int, within time.Duration, when string) {
		t.Helper()
		for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			got := len(ackedAt) - sort.Search(len(ackedAt), func(i int) bool { return ackedAt[i].After(from) })
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("only %d opt-outs acknowledged %s within %s, want %d", got, when, within, n)
			}
		}
	}
	started := time.Now()
	time.Sleep(time.Second)
	waitAcked(started, 30, 30*time.Second, "before the kill")
	if err := pc.procs[victim].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pc.procs[victim].Wait()
	killed := time.Now()
	time.Sleep(8 * time.Second)
	waitAcked(killed, 10, 40*time.Second, "after the kill")
	close(stop)
	wg.Wait()
	mu.Lock()
	var gap time.Duration // the longest stretch with no write acknowledged
	for i := 1; i < len(ackedAt); i++ {
		gap = max(gap, ackedAt[i].Sub(ackedAt[i-1]))
	}
	t.Logf("SIGKILL of %s (leader of the opt-out bucket): %d opt-outs acknowledged, %d failed (from %s to %s after the kill), longest stretch between two opt-outs answered %s; some node unproven for %s (staleness %s)",
		leader, len(acked), failed, firstFail.Sub(killed).Round(time.Millisecond), lastFail.Sub(killed).Round(time.Millisecond), gap.Round(time.Millisecond), unproven, DefaultStaleness)
	mu.Unlock()
	if len(acked) < 30 {
		t.Fatalf("only %d opt-outs acknowledged: the test proves little", len(acked))
	}

	for _, store := range pc.stores {
		for _, e164 := range acked {
			waitListed(t, store, e164, 30*time.Second)
		}
	}

	// The killed server returns on its store folder and catches up; each
	// server in turn, the killed one first, is made the bucket's leader and
	// answers from its own copy for every acknowledged opt-out.
	pc.startProcess(t, victim)
	nc, err := nats.Connect(strings.Join(pc.urls(victim), ","), nats.DontRandomize())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for j := range 3 {
		pc.readFromLeader(t, nc, (victim+j)%3, acked)
	}
}

// readFromLeader makes server i the opt-out bucket's leader once its
// replica is current, then reads every opt-out of numbers from it: a
// clustered stream's leader alone answers STREAM.MSG.GET, from its own store.
func (pc *processCluster) readFromLeader(t *testing.T, nc *nats.Conn, i int, numbers []string) {
	t.Helper()
	name := pc.specs[i].Name
	deadline := time.Now().Add(45 * time.Second)
	for {
		l, peers, err := streamLeader(t.Context(), pc.nodes[i], "KV_"+optOutBucket)
		if err == nil && l == name {
			break
		}
		current := err == nil
		for _, p := range peers {
			if p.Name == name {
				current = current && p.Current && p.Lag == 0
			}
		}
		if current {
			body, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": name}})
			nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.KV_"+optOutBucket, body, 5*time.Second)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not lead the opt-out bucket within 45 s (leader %q, replicas %+v, %v)", name, l, peers, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	missing := 0
	for _, e164 := range numbers {
		subject := "$KV." + optOutBucket + ".internal." + e164[1:]
		req, _ := json.Marshal(map[string]string{"last_by_subj": subject})
		msg, err := nc.Request("$JS.API.STREAM.MSG.GET.KV_"+optOutBucket, req, 5*time.Second)
		var res struct {
			Message *struct {
				Subject string `json:"subject"`
			} `json:"message"`
			Error *struct {
				Description string `json:"description"`
			} `json:"error"`
		}
		if err == nil {
			err = json.Unmarshal(msg.Data, &res)
		}
		if err != nil || res.Message == nil || res.Message.Subject != subject {
			missing++
			if missing <= 5 {
				t.Errorf("%s, leading the bucket, has no opt-out of %s: %v %+v", name, e164, err, res.Error)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged opt-outs missing from %s's copy", missing, len(numbers), name)
	}
}
