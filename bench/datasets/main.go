// Command datasets measures the data sets beside the DNC lists at scale:
// a thousands-block file of every NANP block, intermodal port lists of 50 M
// numbers (bytes per number on disk, for two densities), 10 M consent
// records, and the line type + consent + exemption lookups of one call.
//
//	go run ./bench/datasets -work /work/tmp/datasets
//
// The figures go to stdout as a markdown table (docs/benchmarks.md keeps them).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/gatekeeper-sip/gatekeeper/internal/number"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

func main() {
	work := flag.String("work", "/work/tmp/datasets", "folder for the generated files and the registry (emptied first)")
	blocks := flag.Int("blocks", 6_000_000, "rows of the blocks file")
	ports := flag.Int("ports", 50_000_000, "numbers of each port list")
	consents := flag.Int("consents", 10_000_000, "consent records")
	ebrs := flag.Int("ebr", 1_000_000, "exemption records")
	lookups := flag.Int("lookups", 200_000, "lookups measured")
	flag.Parse()
	if err := run(*work, *blocks, *ports, *consents, *ebrs, *lookups); err != nil {
		fmt.Fprintln(os.Stderr, "datasets:", err)
		os.Exit(1)
	}
}

// exchanges are the NPA-NXX codes the data use: every one the numbering
// plan's rules allow (number.CheckExchange), area codes 201..989.
func exchanges() []int {
	var out []int
	for npa := 201; npa <= 989; npa++ {
		for nxx := 200; nxx <= 999; nxx++ {
			if number.CheckExchange(uint32(npa*1000+nxx)) == nil {
				out = append(out, npa*1000+nxx)
			}
		}
	}
	return out
}

func run(work string, nBlocks, nPorts, nConsents, nEBR, nLookups int) error {
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	all := exchanges()
	fmt.Printf("| measure | figure |\n|---|---|\n")

	// Blocks: every block of the first nBlocks/10 exchanges, types mixed like the NANP.
	blocksFile := filepath.Join(work, "blocks.csv")
	if err := writeLines(blocksFile, "npa,nxx,x,type,state\n", nBlocks, func(i int, b []byte) []byte {
		x := all[(i/10)%len(all)]
		types := []string{"wireless", "wireless", "landline", "landline", "voip", "mixed", "pager"}
		b = strconv.AppendInt(b, int64(x/1000), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(x%1000), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(i%10), 10)
		b = append(b, ',')
		b = append(b, types[rng.IntN(len(types))]...)
		return append(b, ",NY\n"...)
	}); err != nil {
		return err
	}
	store, err := registry.Open(registry.DefaultOptions(filepath.Join(work, "data")))
	if err != nil {
		return err
	}
	ctx := context.Background()
	info, took, err := timed(func() (registry.ListInfo, error) {
		return store.ImportDataSet(ctx, registry.DataSetRequest{Kind: registry.KindBlocks, Files: []string{blocksFile}})
	})
	if err != nil {
		return err
	}
	fmt.Printf("| blocks import, %d rows (%d exchanges) | %.1f s (%.2f M rows/s), %s stored |\n", info.Count, info.Count/10, took.Seconds(), float64(info.Count)/took.Seconds()/1e6, mib(info.Bytes))

	// Port lists: nPorts numbers spread over as many exchanges as the national
	// list has (sparse) and over a sixth of them (dense).
	for _, p := range []struct {
		list      string
		exchanges int
	}{{registry.KindWirelineToWireless, 260_000}, {registry.KindWirelessToWireline, 43_000}} { // the national list's exchange count, and a sixth of it
		file := filepath.Join(work, p.list+".txt")
		used := slices.Clone(all)
		rng.Shuffle(len(used), func(i, j int) { used[i], used[j] = used[j], used[i] })
		used = used[:p.exchanges]
		if err := writeLines(file, "", nPorts, func(_ int, b []byte) []byte {
			// Duplicates are few and counted once by the import.
			b = strconv.AppendInt(b, int64(used[rng.IntN(len(used))]), 10)
			return append(b, fmt.Sprintf("%04d\n", rng.IntN(10000))...)
		}); err != nil {
			return err
		}
		before := diskBytes(filepath.Join(work, "data"))
		info, took, err := timed(func() (registry.ListInfo, error) {
			return store.ImportDataSet(ctx, registry.DataSetRequest{Kind: p.list, Files: []string{file}, SourceDate: "2026-11-20"})
		})
		if err != nil {
			return err
		}
		store.Close() // flush, so that the disk holds the data
		grown := diskBytes(filepath.Join(work, "data")) - before
		if store, err = registry.Open(registry.DefaultOptions(filepath.Join(work, "data"))); err != nil {
			return err
		}
		fmt.Printf("| port list %s, %d numbers in %d exchanges (%.1f%% of their lines) | import %.1f s; stored %.2f B/number; data dir grew %.2f B/number |\n",
			p.list, info.Count, p.exchanges, 100*float64(info.Count)/float64(p.exchanges)/1e4, took.Seconds(),
			float64(info.Bytes)/float64(info.Count), float64(grown)/float64(info.Count))
		os.Remove(file)
	}

	// Consent records and exemptions, on random numbers of the exchanges.
	number := func() int64 { return int64(all[rng.IntN(len(all))])*10000 + int64(rng.IntN(10000)) }
	consentFile := filepath.Join(work, "consent.csv")
	var consented []int64
	if err := writeLines(consentFile, "number,seller,campaign,kind,granted_at,expires_at,revoked_at,evidence\n", nConsents, func(i int, b []byte) []byte {
		n := number()
		if i%50 == 0 {
			consented = append(consented, n)
		}
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ",acme,spring,written,2026-01-05T10:00:00Z,,,form-"...)
		b = strconv.AppendInt(b, int64(i), 10)
		return append(b, '\n')
	}); err != nil {
		return err
	}
	var memBefore runtime.MemStats
	runtime.ReadMemStats(&memBefore)
	info, took, err = timed(func() (registry.ListInfo, error) {
		return store.ImportDataSet(ctx, registry.DataSetRequest{Kind: registry.KindConsent, Files: []string{consentFile}})
	})
	if err != nil {
		return err
	}
	fmt.Printf("| consent import, %d records | %.1f s (%.2f M records/s), %s stored, peak RSS %s |\n", info.Count, took.Seconds(),
		float64(info.Count)/took.Seconds()/1e6, mib(info.Bytes), mib(peakRSS()))
	ebrFile := filepath.Join(work, "ebr.csv")
	if err := writeLines(ebrFile, "number,seller,kind,date\n", nEBR, func(i int, b []byte) []byte {
		n := number()
		if i < len(consented) {
			n = consented[i]
		}
		b = strconv.AppendInt(b, n, 10)
		return append(b, ",acme,purchase,2026-02-01\n"...)
	}); err != nil {
		return err
	}
	if _, err := store.ImportDataSet(ctx, registry.DataSetRequest{Kind: registry.KindEBR, Files: []string{ebrFile}}); err != nil {
		return err
	}

	// One call's lookups: line type, consent, exemption. Half the numbers
	// have consent and an exemption, half have nothing. Cold: each number
	// asked once (its exchanges and records read from Badger); warm: a
	// working set of 10,000 numbers asked again and again (the caches hold it).
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	runtime.GOMAXPROCS(1)
	numbers := make([]string, nLookups)
	for i := range numbers {
		n := number()
		if i%2 == 0 {
			n = consented[rng.IntN(len(consented))]
		}
		numbers[i] = "+1" + strconv.FormatInt(n, 10)
	}
	for _, pass := range []struct {
		name    string
		numbers []string
	}{{"cold: each number asked once", numbers}, {"warm: 10,000 numbers asked again", numbers[:10_000]}} {
		var took []time.Duration
		for i := range nLookups {
			e164 := pass.numbers[i%len(pass.numbers)]
			start := time.Now()
			if _, err := store.LineType(e164, ""); err != nil {
				return err
			}
			if _, err := policy.DecideConsent(store, e164, "acme", "spring", at); err != nil {
				return err
			}
			if _, err := policy.DecideExemption(store, e164, "acme", at, policy.DefaultExemptionPeriods); err != nil {
				return err
			}
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		q := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Nanoseconds()) / 1e3 }
		fmt.Printf("| line type + consent + exemption, %s (%d lookups, half with records) | p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs |\n",
			pass.name, len(took), q(0.5), q(0.99), q(0.999))
	}
	return store.Close()
}

func timed(f func() (registry.ListInfo, error)) (registry.ListInfo, time.Duration, error) {
	start := time.Now()
	info, err := f()
	return info, time.Since(start), err
}

func writeLines(path, header string, n int, line func(int, []byte) []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(header)
	var buf []byte
	for i := range n {
		buf = line(i, buf[:0])
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// diskBytes is the space the files under dir take (allocated blocks).
func diskBytes(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			var st syscall.Stat_t
			if syscall.Stat(path, &st) == nil {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}

func peakRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
