// Command registry measures the registry at national scale: import time and
// memory, bytes per number on disk (against one key per number, in the same
// run), lookup latency and throughput, a change list's apply time, and the
// serving process's own memory with the full list open.
//
//	go run ./bench/registry gen -out /work/tmp/ftc          # 250 M numbers, 2.7 GB
//	go run ./bench/registry run -src /work/tmp/ftc -work /work/tmp/bench
//
// The figures go to stdout as a markdown table (docs/benchmarks.md keeps them).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/ftcgen"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// genConfig is what gen wrote, so that run samples the same data.
type genConfig struct {
	AreaCodes int    `json:"area_codes"`
	Seed      uint64 `json:"seed"`
	Numbers   int64  `json:"numbers"`
	Changes   int    `json:"changes"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: registry gen -out DIR [-areas 330] [-changes 100000] | run -src DIR -work DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "registry bench:", err)
		os.Exit(1)
	}
}

func gen(args []string) error {
	fl := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fl.String("out", "", "directory for the generated files")
	areas := fl.Int("areas", 330, "area codes (330: ≈ 250 M numbers, 2.7 GB)")
	changes := fl.Int("changes", 100_000, "lines of the change list")
	seed := fl.Uint64("seed", 1, "seed")
	fl.Parse(args)
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	if err := os.MkdirAll(filepath.Join(*out, "ftc"), 0o755); err != nil {
		return err
	}
	start := time.Now()
	g := ftcgen.New(ftcgen.Config{AreaCodes: *areas, Seed: *seed})
	st, err := g.WriteFull(filepath.Join(*out, "ftc"), ftcgen.Digits, false, runtime.NumCPU())
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(*out, "changes.txt"))
	if err != nil {
		return err
	}
	if err := ftcgen.WriteChanges(f, g.Changes(*changes, 1), "2026-11-20"); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cfg, _ := json.Marshal(genConfig{AreaCodes: *areas, Seed: *seed, Numbers: st.Numbers, Changes: *changes})
	fmt.Printf("wrote %d numbers in %d files (%.2f GB) and %d changes in %s\n", st.Numbers, st.Files, float64(st.Bytes)/1e9, *changes, time.Since(start).Round(time.Millisecond))
	return os.WriteFile(filepath.Join(*out, "gen.json"), cfg, 0o644)
}

// row is one line of the results table.
type row struct{ what, figure, target string }

func run(args []string) error {
	fl := flag.NewFlagSet("run", flag.ExitOnError)
	src := fl.String("src", "", "directory written by gen")
	work := fl.String("work", "", "scratch directory (emptied first)")
	skipOneKey := fl.Bool("skip-onekey", false, "skip the one-key-per-number comparison (slow: minutes)")
	fl.Parse(args)
	if *src == "" || *work == "" {
		return fmt.Errorf("-src and -work are required")
	}
	var gc genConfig
	data, err := os.ReadFile(filepath.Join(*src, "gen.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &gc); err != nil {
		return err
	}
	os.RemoveAll(*work)
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(*work, "gatekeeper")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/gatekeeper").CombinedOutput(); err != nil {
		return fmt.Errorf("building gatekeeper: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(*src, "ftc", "*.txt"))
	slices.Sort(files)
	dataDir := filepath.Join(*work, "data")
	var rows []row
	add := func(what, figure, target string) {
		rows = append(rows, row{what, figure, target})
		fmt.Fprintf(os.Stderr, "%s: %s\n", what, figure)
	}

	// 1. Full import through the CLI, as an admin runs it.
	imp, err := measure(bin, append([]string{"import", "--data-dir", dataDir, "--list", "ftc", "--source-date", "2026-11-19"}, files...)...)
	if err != nil {
		return err
	}
	took := tookOf(imp.out)
	add("full import, "+strconv.FormatInt(gc.Numbers, 10)+" numbers from "+strconv.Itoa(len(files))+" plain files",
		fmt.Sprintf("%s (%.1f M numbers/s); process %s wall, %.1f s CPU", took.Round(100*time.Millisecond), float64(gc.Numbers)/took.Seconds()/1e6, imp.wall.Round(100*time.Millisecond), imp.cpu.Seconds()), "≤ 60 s, ≥ 4 M/s")
	add("import peak RSS", mib(imp.maxRSS), "≤ 1 GB")
	diskBytes, err := dirSize(dataDir)
	if err != nil {
		return err
	}
	add("disk, bitmaps per exchange", fmt.Sprintf("%s, %.2f bytes per listed number", mib(diskBytes), float64(diskBytes)/float64(gc.Numbers)), "≤ 1.5 B/number")

	// 2. The same numbers one key each, as the layout the registry replaced.
	if !*skipOneKey {
		oneKey := filepath.Join(*work, "onekey")
		start := time.Now()
		n, err := writeOneKeyPerNumber(oneKey, files)
		if err != nil {
			return err
		}
		size, err := dirSize(oneKey)
		if err != nil {
			return err
		}
		add("disk, one key per number (Badger defaults: Snappy; StreamWriter)", fmt.Sprintf("%s, %.2f bytes per number (%d keys written in %s)", mib(size), float64(size)/float64(n), n, time.Since(start).Round(time.Second)), "~10 B")
		os.RemoveAll(oneKey)
	}

	// 3. Lookups on one core, in process: the proxy's own path.
	if err := lookups(dataDir, gc, add); err != nil {
		return err
	}

	if err := warming(dataDir, add); err != nil {
		return err
	}

	// 4. A change list of additions and deletions.
	delta, err := measure(bin, "import", "--data-dir", dataDir, "--list", "ftc", "--delta", filepath.Join(*src, "changes.txt"))
	if err != nil {
		return err
	}
	add(fmt.Sprintf("change list of %d lines (--delta)", gc.Changes), fmt.Sprintf("%s applied; process %s wall incl. open and close; %s", tookOf(delta.out).Round(time.Millisecond), delta.wall.Round(time.Millisecond), countsOf(delta.out)), "≤ 2 s")

	// 5. The serving process with the full list open.
	if err := serving(bin, *work, dataDir, filepath.Join(*src, "changes.txt"), files, gc, add); err != nil {
		return err
	}

	fmt.Println("| measured | figure | target |")
	fmt.Println("|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.what, r.figure, r.target)
	}
	return nil
}

// measured is a finished child process.
type measured struct {
	out    string
	wall   time.Duration
	cpu    time.Duration
	maxRSS int64 // bytes
}

func measure(bin string, args ...string) (measured, error) {
	start := time.Now()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	m := measured{out: string(out), wall: time.Since(start)}
	if err != nil {
		return m, fmt.Errorf("%s %s: %v\n%s", bin, args[0], err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	m.maxRSS = ru.Maxrss * 1024
	return m, nil
}

var tookPattern = regexp.MustCompile(`took ([0-9.]+[a-zµ]+)`)

func tookOf(out string) time.Duration {
	m := tookPattern.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	d, _ := time.ParseDuration(m[1])
	return d
}

var countsPattern = regexp.MustCompile(`version \d+, (\d+) numbers \(\+(\d+) added, -(\d+) removed\)`)

func countsOf(out string) string {
	m := countsPattern.FindStringSubmatch(out)
	if m == nil {
		return "?"
	}
	return fmt.Sprintf("+%s -%s, %s numbers after", m[2], m[3], m[1])
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// dirSize is the bytes the directory's files take on disk (allocated blocks).
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	return total, err
}

// writeOneKeyPerNumber stores every number of files as its own key, the
// layout of the registry's first version: 'd' + 8-byte version + 'n' + E.164.
func writeOneKeyPerNumber(dir string, files []string) (int64, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	sw := db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return 0, err
	}
	prefix := []byte("d\x00\x00\x00\x00\x00\x00\x00\x01n+1")
	buf := z.NewBuffer(64<<20, "onekey")
	defer buf.Release()
	var n int64
	for _, f := range files { // area codes in order, numbers sorted within: keys arrive sorted
		fh, err := os.Open(f)
		if err != nil {
			return n, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			key := append(append([]byte(nil), prefix...), sc.Bytes()...)
			badger.KVToBuffer(&pb.KV{Key: key, Value: []byte("1"), Version: 1}, buf)
			if n++; buf.LenNoPadding() > 32<<20 {
				if err := sw.Write(buf); err != nil {
					return n, err
				}
				buf.Reset()
			}
		}
		fh.Close()
	}
	if err := sw.Write(buf); err != nil {
		return n, err
	}
	return n, sw.Flush()
}

// warming measures Store.Warm: every exchange of the list read into the cache.
func warming(dataDir string, add func(what, figure, target string)) error {
	s, err := registry.Open(registry.DefaultOptions(dataDir))
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	if err := s.Warm(context.Background()); err != nil {
		return err
	}
	add("Store.Warm: every exchange read into the cache", time.Since(start).Round(10*time.Millisecond).String(), "")
	return nil
}

// lookups measures Listed on one core: uniformly over the whole list
// (exchanges far outnumber the cache) and within ten area codes (a campaign
// dialing a region: its exchanges fit the cache).
func lookups(dataDir string, gc genConfig, add func(what, figure, target string)) error {
	s, err := registry.Open(registry.DefaultOptions(dataDir))
	if err != nil {
		return err
	}
	defer s.Close()
	g := ftcgen.New(ftcgen.Config{AreaCodes: gc.AreaCodes, Seed: gc.Seed})
	all := g.Exchanges()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	// The first lookup in each exchange reads Badger (and fills the cache).
	first, _ := sample(g, all, 1, 10)
	lat := make([]time.Duration, len(first))
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	for i, n := range first {
		t0 := time.Now()
		if _, _, err := s.Listed("ftc", n); err != nil {
			return err
		}
		lat[i] = time.Since(t0)
	}
	el := time.Since(start)
	runtime.ReadMemStats(&ms1)
	slices.Sort(lat)
	add("lookup, first in each exchange (a Badger read)", fmt.Sprintf("p50 %s, p99 %s, p99.9 %s; %.2f M lookups/s on one core; %.1f allocs/lookup",
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)*999/1000], float64(len(first))/el.Seconds()/1e6,
		float64(ms1.Mallocs-ms0.Mallocs)/float64(len(first))), "p99 ≤ 20 µs")

	uniformPresent, uniformAbsent := sample(g, all, 4, 11)
	local := all[:len(all)*10/gc.AreaCodes] // the first ten area codes
	localPresent, localAbsent := sample(g, local, 128, 12)
	for _, c := range []struct {
		name   string
		nums   []string
		listed bool
	}{
		{"uniform over the list, present", uniformPresent, true},
		{"uniform over the list, absent (listed exchange)", uniformAbsent, false},
		{"ten area codes, present", localPresent, true},
		{"ten area codes, absent (listed exchange)", localAbsent, false},
	} {
		// A pass to warm the exchange cache, then one timed per lookup, then one for throughput.
		for _, n := range c.nums {
			if listed, _, err := s.Listed("ftc", n); err != nil || listed != c.listed {
				return fmt.Errorf("Listed(%s) = %v, %v; want %v", n, listed, err, c.listed)
			}
		}
		lat := make([]time.Duration, len(c.nums))
		for i, n := range c.nums {
			t0 := time.Now()
			s.Listed("ftc", n)
			lat[i] = time.Since(t0)
		}
		slices.Sort(lat)
		runtime.GC()
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		start := time.Now()
		for _, n := range c.nums {
			s.Listed("ftc", n)
		}
		el := time.Since(start)
		runtime.ReadMemStats(&ms1)
		add("lookup, "+c.name, fmt.Sprintf("p50 %s, p99 %s, p99.9 %s; %.2f M lookups/s on one core; %.1f allocs/lookup",
			lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)*999/1000], float64(len(c.nums))/el.Seconds()/1e6,
			float64(ms1.Mallocs-ms0.Mallocs)/float64(len(c.nums))), "p99 ≤ 20 µs, ≥ 1 M/s")
	}
	return nil
}

// sample takes per present and per absent lines of every exchange given
// (fewer when it has fewer), in random order.
func sample(g *ftcgen.Generator, exchanges []ftcgen.Exchange, per int, seed uint64) (present, absent []string) {
	rng := rand.New(rand.NewPCG(seed, 0))
	var listed [ftcgen.LinesPerExchange]bool
	var on, off []int
	for _, x := range exchanges {
		g.Listed(x, &listed)
		on, off = on[:0], off[:0]
		for l, v := range listed {
			if v {
				on = append(on, l)
			} else {
				off = append(off, l)
			}
		}
		for range per {
			if len(on) > 0 {
				present = append(present, "+1"+string(ftcgen.AppendNumber(nil, x, on[rng.IntN(len(on))], ftcgen.Digits)))
			}
			if len(off) > 0 {
				absent = append(absent, "+1"+string(ftcgen.AppendNumber(nil, x, off[rng.IntN(len(off))], ftcgen.Digits)))
			}
		}
	}
	rng.Shuffle(len(present), func(i, j int) { present[i], present[j] = present[j], present[i] })
	rng.Shuffle(len(absent), func(i, j int) { absent[i], absent[j] = absent[j], absent[i] })
	return present, absent
}

// serving starts `gatekeeper serve` on the data, warms it through its admin
// socket, and reads its memory from /proc: at rest, after a change list and
// during and after a full import through the server.
func serving(bin, work, dataDir, changes string, files []string, gc genConfig, add func(what, figure, target string)) error {
	sipPort, carrierPort := freePort(), freePort()
	socket := filepath.Join(work, "admin.sock")
	cfg := filepath.Join(work, "gatekeeper.yaml")
	os.WriteFile(filepath.Join(work, "policy.yaml"), []byte("mode: enforce\nlists:\n  ftc: the national registry\nrules:\n  - name: national-dnc\n    match:\n      listed: [ftc]\n    action: reject\n"), 0o644)
	os.WriteFile(cfg, []byte(fmt.Sprintf("sip:\n  listen: [\"udp://127.0.0.1:%d\"]\n  carrier: \"sip:127.0.0.1:%d\"\ndialers:\n  - name: bench\n    sources: [\"127.0.0.1/32\"]\ndata_dir: %s\naudit:\n  dir: %s\npolicy: policy.yaml\nadmin:\n  socket: %s\n",
		sipPort, carrierPort, dataDir, filepath.Join(work, "audit"), socket)), 0o644)
	var log strings.Builder
	srv := exec.Command(bin, "serve", "--config", cfg)
	srv.Stdout, srv.Stderr = &log, &log
	start := time.Now()
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}()
	client := admin.NewClient(socket)
	defer client.Close()
	for client.Ping(context.Background()) != nil {
		if time.Since(start) > time.Minute {
			return fmt.Errorf("serve did not start:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	add("serve: start to admin socket answering", time.Since(start).Round(time.Millisecond).String(), "")
	add("serve: memory after start, full list open", procMemory(srv.Process.Pid), "RssAnon < 300 MB")

	g := ftcgen.New(ftcgen.Config{AreaCodes: gc.AreaCodes, Seed: gc.Seed})
	present, _ := sample(g, g.Exchanges(), 1, 21)
	for _, n := range present {
		if _, _, err := client.Listed("ftc", n); err != nil {
			return err
		}
	}
	add(fmt.Sprintf("serve: memory after %d lookups, one in every exchange", len(present)), procMemory(srv.Process.Pid), "RssAnon < 300 MB")

	if _, err := client.Import(context.Background(), registry.ImportRequest{List: "ftc", Delta: true, Files: []string{changes}}); err != nil {
		return err
	}
	add("serve: memory after a change list through the server", procMemory(srv.Process.Pid), "")

	peak := int64(0)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
				peak = max(peak, procStatus(srv.Process.Pid)["RssAnon"])
			}
		}
	}()
	t0 := time.Now()
	_, err := client.Import(context.Background(), registry.ImportRequest{List: "ftc", Files: files, SourceDate: "2026-11-19"})
	close(done)
	if err != nil {
		return err
	}
	add("serve: full import through the server", fmt.Sprintf("%s; peak RssAnon %s during it", time.Since(t0).Round(100*time.Millisecond), mib(peak)), "")
	time.Sleep(2 * time.Second)
	add("serve: memory 2 s after that import", procMemory(srv.Process.Pid), "RssAnon < 300 MB")
	return nil
}

func procMemory(pid int) string {
	st := procStatus(pid)
	return fmt.Sprintf("RssAnon %s, RssFile %s, VmRSS %s", mib(st["RssAnon"]), mib(st["RssFile"]), mib(st["VmRSS"]))
}

// procStatus reads the kB fields of /proc/PID/status, in bytes.
func procStatus(pid int) map[string]int64 {
	out := map[string]int64{}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if f := strings.Fields(value); ok && len(f) == 2 && f[1] == "kB" {
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			out[name] = kb * 1024
		}
	}
	return out
}

func freePort() int {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.LocalAddr().(*net.UDPAddr).Port
}
