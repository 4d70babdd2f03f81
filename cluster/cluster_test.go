package cluster

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// freePorts finds n free TCP ports on 127.0.0.1. A clustered JetStream
// server needs its routes (all of them) before it starts, so the ports are
// chosen first; another process could take one in between, which the
// servers' start then reports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// testCluster is three embedded NATS servers on loopback with a gatekeeper
// node, and its own registry, on each.
type testCluster struct {
	servers []*server.Server
	conf    []config.EmbeddedNATS // each server's, to start it again
	stores  []*registry.Store
	nodes   []*Node
	dirs    []string
	// staleness is the nodes' Options.Staleness (default DefaultStaleness).
	staleness time.Duration
	mu        sync.Mutex
	applied   map[int][]Applied // what each node reported through OnApplied
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	return startClusterWith(t, 0)
}

func startClusterWith(t *testing.T, staleness time.Duration) *testCluster {
	t.Helper()
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	tc := &testCluster{staleness: staleness, servers: make([]*server.Server, 3), applied: map[int][]Applied{}}
	for i := range 3 {
		tc.conf = append(tc.conf, config.EmbeddedNATS{Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			RoutesListen: fmt.Sprintf("127.0.0.1:%d", ports[3+i]), Routes: routes, StoreDir: t.TempDir()})
	}
	tc.startServers(t, 0, 1, 2)
	for range 3 {
		tc.addNode(t)
	}
	return tc
}

// addNode opens a registry in a new folder and joins a node with it to the
// cluster (gk-a, gk-b, ... in turn, on the servers in turn).
func (tc *testCluster) addNode(t *testing.T) *Node {
	t.Helper()
	dir := t.TempDir()
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tc.stores = append(tc.stores, store)
	tc.dirs = append(tc.dirs, dir)
	n := tc.open(t, len(tc.nodes))
	tc.nodes = append(tc.nodes, n)
	return n
}

// startServers starts the servers given, at once: a clustered server
// waits for its routes.
func (tc *testCluster) startServers(t *testing.T, which ...int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for _, i := range which {
		wg.Go(func() { tc.servers[i], errs[i] = Embed(fmt.Sprintf("gk-%c", 'a'+i), tc.conf[i]) })
	}
	wg.Wait()
	for _, i := range which {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		s := tc.servers[i]
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
}

// open joins node i to the cluster and waits until it caught up.
func (tc *testCluster) open(t *testing.T, i int) *Node {
	t.Helper()
	var urls []string // its own server first, the others for when it is down
	for j := range 3 {
		urls = append(urls, "nats://"+tc.conf[(i+j)%3].Listen)
	}
	n, err := Open(t.Context(), Options{Node: fmt.Sprintf("gk-%c", 'a'+i), URLs: urls, Staleness: tc.staleness,
		Replicas: 3, Sink: tc.stores[i], Cursor: filepath.Join(tc.dirs[i], "cluster.cursor"), Spent: policy.ConsentSpent,
		OnApplied: func(a Applied) {
			tc.mu.Lock()
			tc.applied[i] = append(tc.applied[i], a)
			tc.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	select {
	case <-n.CaughtUp():
	case <-time.After(10 * time.Second):
		t.Fatalf("node %d did not catch up within 10 s", i)
	}
	return n
}

func optOut(by string, numbers ...string) registry.LiveRequest {
	return registry.LiveRequest{List: "internal", Numbers: numbers, By: by, Via: "test", Reason: "asked not to be called"}
}

// TestOptOutReachesOtherNode records opt-outs through node A and measures
// how long each takes to be in node B's registry.
func TestOptOutReachesOtherNode(t *testing.T) {
	tc := startCluster(t)
	const trials = 1000
	took := make([]time.Duration, 0, trials)
	for i := range trials {
		e164 := fmt.Sprintf("+1202555%04d", i)
		start := time.Now()
		if _, err := tc.nodes[0].ChangeLive(t.Context(), optOut("tester", e164)); err != nil {
			t.Fatal(err)
		}
		for {
			listed, _, err := tc.stores[1].Listed("internal", e164)
			if err != nil {
				t.Fatal(err)
			}
			if listed {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s is not on node B's list 5 s after node A recorded it", e164)
			}
			time.Sleep(100 * time.Microsecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	p50, p99 := took[trials/2], took[trials*99/100]
	t.Logf("opt-out through node A in node B's registry (R3, sync always), over %d trials: p50 %s, p99 %s, max %s", trials, p50, p99, took[trials-1])
	if p99 >= time.Second {
		t.Errorf("p99 %s, want under 1 s", p99)
	}
	if r, err := tc.stores[1].Lookup("+12025550000"); err != nil || len(r.History) != 1 || r.History[0].Via != "test, from node gk-a through the cluster" {
		t.Errorf("node B's history of the opt-out: %+v, %v", r.History, err)
	}
	if r, err := tc.stores[0].Lookup("+12025550000"); err != nil || len(r.History) != 1 || r.History[0].Via != "test" {
		t.Errorf("node A's history of the opt-out: %+v, %v", r.History, err)
	}
	// Node B recorded each change it applied from A (OnApplied, called just
	// after the registry applied it); A, which answered each change itself,
	// reported none.
	var fromA, onA []Applied
	for deadline := time.Now().Add(5 * time.Second); len(fromA) < trials && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tc.mu.Lock()
		fromA, onA = tc.applied[1], tc.applied[0]
		tc.mu.Unlock()
	}
	if len(fromA) != trials || len(onA) != 0 {
		t.Errorf("OnApplied: %d changes on node B, %d on node A; want %d and 0", len(fromA), len(onA), trials)
	} else if a := fromA[0]; a.Node != "gk-a" || len(a.Live) != 1 || a.Live[0].Number != "+12025550000" || a.Consent != nil {
		t.Errorf("node B's first change applied: %+v", a)
	}
	// Node C, and A itself, applied it too.
	for i, s := range tc.stores {
		if listed, _, err := s.Listed("internal", "+12025550000"); err != nil || !listed {
			t.Errorf("node %d: listed %v, %v", i, listed, err)
		}
	}
}

// TestConsentReachesOtherNode grants and revokes consent through node A
// and sees both in node C's registry.
func TestConsentReachesOtherNode(t *testing.T) {
	tc := startCluster(t)
	const e164 = "+12025550143"
	grant := registry.ConsentRequest{Number: e164, Kind: "written", Seller: "acme", By: "tester", Via: "test", Evidence: "form 7"}
	if _, err := tc.nodes[0].ChangeConsent(t.Context(), grant); err != nil {
		t.Fatal(err)
	}
	revoke := registry.ConsentRequest{Revoke: true, Number: e164, Seller: "acme", By: "tester", Via: "test"}
	c, err := tc.nodes[0].ChangeConsent(t.Context(), revoke)
	if err != nil || c.Action != "revoke" {
		t.Fatalf("revoke: %+v, %v", c, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		records, revocations, _, err := tc.stores[2].Consents(e164)
		if err != nil {
			t.Fatal(err)
		}
		if len(records) == 1 && len(revocations) == 1 {
			if records[0].Kind != "written" || records[0].Evidence != "form 7" {
				t.Errorf("node C's consent: %+v", records[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node C has %d consents and %d revocations, want 1 and 1", len(records), len(revocations))
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := tc.nodes[0].ChangeConsent(t.Context(), registry.ConsentRequest{Number: "2025550143", Kind: "written", By: "t", Via: "t"}); err == nil {
		t.Error("a number that is not E.164 was sent to the cluster")
	}
}

// TestCapExactAcrossNodes sends 60 attempts at once, 20 through each node,
// to one number under a cap of 3: exactly 3 may be reserved.
func TestCapExactAcrossNodes(t *testing.T) {
	tc := startCluster(t)
	capOf3 := Cap{Limit: 3, Within: 24 * time.Hour}
	var accepted, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			ok, err := tc.nodes[i%3].Reserve(t.Context(), capOf3, "n/+12025550143", fmt.Sprintf("call-%d@dialer", i))
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				accepted.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 3 || refused.Load() != 57 {
		t.Errorf("%d reserved, %d refused; want 3 and 57", accepted.Load(), refused.Load())
	}
	// A retransmitted INVITE (same Call-ID) is the same attempt; another number has its own count.
	if ok, err := tc.nodes[1].Reserve(t.Context(), Cap{Limit: 1, Within: time.Hour}, "n/+12025550144", "again@dialer"); err != nil || !ok {
		t.Fatalf("first attempt: %v, %v", ok, err)
	}
	if ok, err := tc.nodes[2].Reserve(t.Context(), Cap{Limit: 1, Within: time.Hour}, "n/+12025550144", "again@dialer"); err != nil || !ok {
		t.Errorf("the same Call-ID again: %v, %v; want reserved", ok, err)
	}
	if ok, err := tc.nodes[2].Reserve(t.Context(), Cap{Limit: 1, Within: time.Hour}, "n/+12025550144", "other@dialer"); err != nil || ok {
		t.Errorf("a second call under a cap of 1: %v, %v; want refused", ok, err)
	}
	st, err := tc.nodes[0].Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.CapStreams) != 2 || len(st.Buckets) != 2 {
		t.Errorf("status: %d cap streams, %d buckets; want 2 and 2: %+v", len(st.CapStreams), len(st.Buckets), st)
	}
}

// TestRestartCatchesUpBeforeReady stops node C's watcher, records
// opt-outs through node A meanwhile, and restarts C: when C says it caught
// up, every one of them is in its registry.
func TestRestartCatchesUpBeforeReady(t *testing.T) {
	tc := startCluster(t)
	if _, err := tc.nodes[0].ChangeLive(t.Context(), optOut("tester", "+12025550100")); err != nil {
		t.Fatal(err)
	}
	// Node C stops only once it has that change (on a loaded machine it may
	// not yet, and would then be one more behind).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := tc.nodes[2].Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(st.Buckets, func(b StreamStatus) bool { return b.Behind > 0 }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node C did not catch up with the first opt-out: %+v", st.Buckets)
		}
	}
	tc.nodes[2].Close()
	var missed []string
	for i := range 50 {
		missed = append(missed, fmt.Sprintf("+1303555%04d", i))
	}
	if _, err := tc.nodes[0].ChangeLive(t.Context(), optOut("tester", missed...)); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.nodes[1].ChangeLive(t.Context(), registry.LiveRequest{List: "internal", Numbers: []string{"+12025550100"}, Remove: true, By: "tester", Via: "test"}); err != nil {
		t.Fatal(err)
	}
	// Node C's cursor tells how far it is behind while it is down.
	down, err := Survey(t.Context(), Options{Node: "gk-c", URLs: []string{"nats://" + tc.conf[2].Listen}, Cursor: filepath.Join(tc.dirs[2], "cluster.cursor")})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range down.Buckets {
		if want := map[string]uint64{"KV_gk_optouts": 51, "KV_gk_consents": 0}[b.Name]; b.Behind != want || (want > 0) != !b.Since.IsZero() || time.Since(b.Since) > time.Minute && want > 0 {
			t.Errorf("bucket %s with node C down: %d behind since %s; want %d, since the first missed change", b.Name, b.Behind, b.Since, want)
		}
	}
	n := tc.open(t, 2) // returns once caught up
	if !n.Ready() {
		t.Error("caught up but not ready")
	}
	for _, e164 := range missed {
		if listed, _, err := tc.stores[2].Listed("internal", e164); err != nil || !listed {
			t.Fatalf("%s: listed %v, %v on the restarted node when it said it caught up", e164, listed, err)
		}
	}
	if listed, _, _ := tc.stores[2].Listed("internal", "+12025550100"); listed {
		t.Error("the removal made while node C was down is not in force there")
	}
	st, err := n.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range st.Buckets {
		if b.Behind != 0 {
			t.Errorf("bucket %s: %d behind after catching up", b.Name, b.Behind)
		}
	}
}

// TestPolicyCapAcrossNodes decides 60 calls to one number at once, 20 on
// each node, with a policy that allows 3 within 24 hours: the rule lets
// exactly 3 through, and the refused ones name it.
func TestPolicyCapAcrossNodes(t *testing.T) {
	tc := startCluster(t)
	src := []byte("rules:\n  - name: three-a-day\n    match:\n      attempts: {limit: 3, within: 24h}\n    action: reject\n    status: 480\n")
	var engines []*policy.Engine
	for i, n := range tc.nodes {
		e, err := policy.Parse("p.yaml", src, Registry{Store: tc.stores[i], Node: n})
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, e)
	}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	var allowed, capped atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			d := engines[i%3].Decide(t.Context(), policy.Call{Called: "+12025550143", CallID: fmt.Sprintf("c%d@dialer", i), Time: at})
			switch {
			case d.Error != "":
				t.Error(d.Error)
			case d.Action == policy.Allow:
				allowed.Add(1)
			case d.Rule == "three-a-day":
				capped.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != 3 || capped.Load() != 57 {
		t.Errorf("%d allowed, %d refused by the cap; want 3 and 57", allowed.Load(), capped.Load())
	}
}

// TestUnreachableCluster stops two NATS servers of three under three
// running nodes (quorum lost), then the third: within the staleness no node
// can prove its copy current, though one is still connected, and a cap
// fails at once; with the servers back, every node proves it again and
// changes flow.
func TestUnreachableCluster(t *testing.T) {
	const staleness = 2 * time.Second
	tc := startClusterWith(t, staleness)
	for i, n := range tc.nodes {
		if !n.Current() || !n.Health().Connected {
			t.Fatalf("node %d before the servers stop: %+v", i, n.Health())
		}
	}
	capOf3 := Cap{Limit: 3, Within: time.Hour}
	if ok, err := tc.nodes[0].Reserve(t.Context(), capOf3, "n/+12025550143", "before@dialer"); err != nil || !ok {
		t.Fatalf("reserve with the cluster up: %v, %v", ok, err)
	}
	// Quorum lost: two servers of three stop. Node A is still connected, to
	// the third, but no bucket has a leader to answer it. A leader on the
	// third would go on answering until its Raft noticed the lost quorum
	// (10 to 20 s: nats-server's lostQuorumInterval), so the buckets are led
	// from the two that stop.
	for _, bucket := range []string{optOutBucket, consentBucket} {
		leadFromOthers(t, tc.servers[0], "KV_"+bucket)
	}
	for _, s := range tc.servers[1:] {
		s.Shutdown()
		s.WaitForShutdown()
	}
	stopped := time.Now()
	for i, n := range tc.nodes {
		for n.Current() {
			if time.Since(stopped) > staleness+5*time.Second {
				t.Fatalf("node %d still current %s after quorum was lost: %+v", i, time.Since(stopped), n.Health())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		h := tc.nodes[0].Health()
		if h.Connected && h.Err != nil && time.Since(h.ProvenAt) >= staleness {
			t.Logf("node A without quorum: connected, last proven %s ago: %v", time.Since(h.ProvenAt).Round(time.Millisecond), h.Err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node A without quorum: %+v; want connected, unproven for the staleness, with the probe's error", h)
		}
	}
	// Every server stopped.
	tc.servers[0].Shutdown()
	tc.servers[0].WaitForShutdown()
	for deadline := time.Now().Add(5 * time.Second); tc.nodes[0].Health().Connected; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node A still connected 5 s after every server stopped")
		}
	}
	for i, n := range tc.nodes {
		if h := n.Health(); h.Connected || h.Current {
			t.Errorf("node %d with the servers stopped: %+v", i, h)
		}
	}
	start := time.Now()
	if _, err := tc.nodes[1].Reserve(t.Context(), capOf3, "n/+12025550143", "during@dialer"); !errors.Is(err, ErrUnproven) || time.Since(start) > time.Second {
		t.Errorf("reserve with the servers stopped: %v after %s; want ErrUnproven at once", err, time.Since(start))
	}

	tc.startServers(t, 0, 1, 2)
	restarted := time.Now()
	for i, n := range tc.nodes {
		for !n.Current() {
			if time.Since(restarted) > 30*time.Second {
				t.Fatalf("node %d not current 30 s after the servers restarted: %+v", i, n.Health())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("all nodes current again %s after the servers restarted", time.Since(restarted).Round(time.Millisecond))
	// The cap's stream may elect its leader after the buckets' did: a
	// reservation that fails meanwhile unproves the node until its next proof.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ok, err := tc.nodes[1].Reserve(t.Context(), capOf3, "n/+12025550143", "after@dialer")
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reserve with the servers back: %v, %v", ok, err)
		}
	}
	if _, err := tc.nodes[2].ChangeLive(t.Context(), optOut("tester", "+12025550150")); err != nil {
		t.Fatal(err)
	}
	waitListed(t, tc.stores[0], "+12025550150", 5*time.Second)
}

// leadFromOthers has stream's leader, when it is s, step down until
// another server leads it.
func leadFromOthers(t *testing.T, s *server.Server, stream string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still led by %s after 20 s of step-downs", stream, s.Name())
		}
		if err := s.JetStreamStepdownStream(server.DEFAULT_GLOBAL_ACCOUNT, stream); err != nil {
			t.Logf("step-down of %s: %v", stream, err)
		}
	}
}

// waitListed waits up to within for e164 to be on the internal list of store.
func waitListed(t *testing.T, store *registry.Store, e164 string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		listed, _, err := store.Listed("internal", e164)
		if err != nil {
			t.Fatal(err)
		}
		if listed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not listed %s after it was recorded", e164, within)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConsentCompaction purges the spent grants from the consent bucket,
// each by the node that took it: a grant revoked for its seller, an
// expired one, and another node's revoked one; the grant still in force and
// the revocations stay, and a node that joins afterwards decides as the
// others do.
func TestConsentCompaction(t *testing.T) {
	tc := startCluster(t)
	const e164 = "+12025550143"
	now := time.Now().UTC()
	grant := func(n int, seller string, at, expires time.Time) {
		t.Helper()
		req := registry.ConsentRequest{Number: e164, Kind: "written", Seller: seller, At: at, Expires: expires, By: "tester", Via: "test"}
		if _, err := tc.nodes[n].ChangeConsent(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	grant(0, "acme", now.Add(-3*time.Hour), time.Time{})              // revoked below: spent
	grant(0, "globex", now.Add(-3*time.Hour), time.Time{})            // in force
	grant(0, "initech", now.Add(-3*time.Hour), now.Add(-2*time.Hour)) // expired: spent
	grant(1, "acme", now.Add(-150*time.Minute), time.Time{})          // node B's, revoked below: spent
	revoke := registry.ConsentRequest{Revoke: true, Number: e164, Seller: "acme", At: now.Add(-time.Hour), By: "tester", Via: "test"}
	if _, err := tc.nodes[0].ChangeConsent(t.Context(), revoke); err != nil {
		t.Fatal(err)
	}
	// Node B has applied node A's revocation before it compacts.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, revocations, _, _ := tc.stores[1].Consents(e164); len(revocations) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node B never applied node A's revocation")
		}
	}
	for i, want := range []int{2, 1, 0} {
		if purged, err := tc.nodes[i].CompactConsents(t.Context(), time.Now()); err != nil || purged != want {
			t.Errorf("node %d compacted %d grants, %v; want %d", i, purged, err, want)
		}
	}
	keys, err := tc.nodes[2].consents.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("the consent bucket keeps %d keys after compaction, want 2 (the grant in force and the revocation): %v", len(keys), keys)
	}

	d := tc.addNode(t)
	records, revocations, _, err := tc.stores[3].Consents(e164)
	if err != nil || len(records) != 1 || records[0].Seller != "globex" || len(revocations) != 1 {
		t.Errorf("a node joining after compaction: %d grants %+v, %d revocations, %v; want globex's and one", len(records), records, len(revocations), err)
	}
	for _, seller := range []string{"acme", "globex", "initech"} {
		var kinds []string
		for _, store := range []*registry.Store{tc.stores[0], tc.stores[3]} {
			a, err := policy.DecideConsent(store, e164, seller, "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, a.Kind)
		}
		if kinds[0] != kinds[1] {
			t.Errorf("consent for %s: %s on node A, which applied every change, %s on the node that joined after compaction", seller, kinds[0], kinds[1])
		}
	}
	if !d.Ready() {
		t.Error("the new node is not ready")
	}
}
