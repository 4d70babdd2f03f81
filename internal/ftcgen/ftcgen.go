// Package ftcgen writes synthetic Do-Not-Call data in the FTC's formats, at
// any scale up to the whole national registry, so that tests and benchmarks
// can be reproduced without the real (subscription-only) files.
//
// The data look like the registry: about 330 area codes with up to 787
// exchanges each (every usable NXX code) and ~10% of all lines listed on average, but unevenly: most
// exchanges hold 4-12% of their lines, some a few lines only, some are dense
// (40-70%) and a few hold whole blocks of consecutive lines (businesses).
// Everything is derived from a seed, exchange by exchange, so that a change
// list can delete numbers the full list holds without keeping the full list
// in memory.
package ftcgen

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// LinesPerExchange is the number of lines of an NPA-NXX.
const LinesPerExchange = 10000

// Config says what to generate. The zero value of a field takes its default.
type Config struct {
	AreaCodes        int    // default 330: ≈ 250 M numbers with the defaults below
	ExchangesPerArea int    // default and at most 787: the usable NXX codes
	Seed             uint64 // default 1
}

// Full-scale defaults: 330 × 787 exchanges × 9.6% ≈ 250 M numbers.
const (
	defaultAreaCodes        = 330
	defaultExchangesPerArea = 787
)

// Exchange is one NPA-NXX and how its lines are listed.
type Exchange struct {
	NPA, NXX int
	kind     exchangeKind
	density  float64
}

// ID is the six-digit NPA-NXX (e.g. 202555).
func (x Exchange) ID() int { return x.NPA*1000 + x.NXX }

type exchangeKind uint8

const (
	sparse exchangeKind = iota // a few lines: roaring wins
	normal                     // 4-12%
	dense                      // 40-70%
	blocks                     // runs of consecutive lines: roaring's run containers win
)

// Generator derives the data of a Config.
type Generator struct {
	cfg       Config
	exchanges []Exchange // sorted by ID
}

// New chooses the area codes and exchanges of cfg.
func New(cfg Config) *Generator {
	if cfg.AreaCodes == 0 {
		cfg.AreaCodes = defaultAreaCodes
	}
	if cfg.ExchangesPerArea == 0 || cfg.ExchangesPerArea > defaultExchangesPerArea {
		cfg.ExchangesPerArea = defaultExchangesPerArea
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	g := &Generator{cfg: cfg}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	npas := pick(rng, usableNPAs(), cfg.AreaCodes)
	nxxs := usableNXXs()
	for _, npa := range npas {
		for _, nxx := range pick(rng, nxxs, cfg.ExchangesPerArea) {
			g.exchanges = append(g.exchanges, newExchange(rng, npa, nxx))
		}
	}
	slices.SortFunc(g.exchanges, func(a, b Exchange) int { return a.ID() - b.ID() })
	return g
}

// The mix of exchange kinds and their densities; the averages come to ≈ 9.6%
// of all lines, the national registry's ~250 M numbers over the NANP's
// in-service exchanges.
func newExchange(rng *rand.Rand, npa, nxx int) Exchange {
	x := Exchange{NPA: npa, NXX: nxx}
	switch r := rng.Float64(); {
	case r < 0.10:
		x.kind, x.density = sparse, 0.001+rng.Float64()*0.019
	case r < 0.95:
		x.kind, x.density = normal, 0.04+rng.Float64()*0.08
	case r < 0.99:
		x.kind, x.density = dense, 0.40+rng.Float64()*0.30
	default:
		x.kind, x.density = blocks, 0.30+rng.Float64()*0.40
	}
	return x
}

// pick returns n of the candidates, chosen at random, in ascending order.
func pick(rng *rand.Rand, candidates []int, n int) []int {
	c := slices.Clone(candidates)
	rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	c = c[:min(n, len(c))]
	slices.Sort(c)
	return c
}

// usableNPAs are geographic-looking area codes: 2-9 first, not N11, not N9X
// (reserved for expansion), not 37X/96X (reserved), not 555.
func usableNPAs() []int {
	var out []int
	for npa := 200; npa <= 999; npa++ {
		if npa%100 == 11 || npa/10%10 == 9 || npa/10 == 37 || npa/10 == 96 || npa == 555 {
			continue
		}
		out = append(out, npa)
	}
	return out
}

// usableNXXs are exchange codes: 2-9 first, not N11, not 555, 950, 958, 959, 976.
func usableNXXs() []int {
	var out []int
	for nxx := 200; nxx <= 999; nxx++ {
		if nxx%100 == 11 || nxx == 555 || nxx == 950 || nxx == 958 || nxx == 959 || nxx == 976 {
			continue
		}
		out = append(out, nxx)
	}
	return out
}

// Exchanges returns every exchange, sorted.
func (g *Generator) Exchanges() []Exchange { return g.exchanges }

// AreaCodes returns the area codes, sorted.
func (g *Generator) AreaCodes() []int {
	var out []int
	for _, x := range g.exchanges {
		if len(out) == 0 || out[len(out)-1] != x.NPA {
			out = append(out, x.NPA)
		}
	}
	return out
}

// Listed sets listed[line] for every listed line of x (listed is cleared first).
// The answer depends only on the seed and the exchange.
func (g *Generator) Listed(x Exchange, listed *[LinesPerExchange]bool) {
	*listed = [LinesPerExchange]bool{}
	rng := rand.New(rand.NewPCG(g.cfg.Seed, uint64(x.ID())))
	if x.kind == blocks {
		// Runs of 20-400 consecutive lines until the density is reached.
		for n := 0; n < int(x.density*LinesPerExchange); {
			start, length := rng.IntN(LinesPerExchange), 20+rng.IntN(380)
			for l := start; l < min(start+length, LinesPerExchange); l++ {
				if !listed[l] {
					listed[l] = true
					n++
				}
			}
		}
		return
	}
	threshold := uint64(x.density * (1 << 63))
	for l := range listed {
		listed[l] = rng.Uint64()>>1 < threshold
	}
}

// Form is how a full list writes a number.
type Form int

const (
	Digits     Form = iota // NPANXXXXXX
	AreaCommas             // NPA,NXXXXXX
)

// Stats counts what was written.
type Stats struct {
	Files   int
	Numbers int64
	Bytes   int64
}

// WriteFull writes the full list into dir, one file per area code named
// NPA.txt (or NPA.zip holding NPA.txt when zipped), as the FTC delivers it per
// area code. Lines are sorted. Files are written by workers goroutines.
func (g *Generator) WriteFull(dir string, form Form, zipped bool, workers int) (Stats, error) {
	npas := g.AreaCodes()
	byNPA := map[int][]Exchange{}
	for _, x := range g.exchanges {
		byNPA[x.NPA] = append(byNPA[x.NPA], x)
	}
	var (
		mu    sync.Mutex
		total Stats
		first error
		next  = make(chan int)
		wg    sync.WaitGroup
	)
	for range max(workers, 1) {
		wg.Go(func() {
			for npa := range next {
				st, err := g.writeArea(dir, npa, byNPA[npa], form, zipped)
				mu.Lock()
				total.Files++
				total.Numbers += st.Numbers
				total.Bytes += st.Bytes
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for _, npa := range npas {
		next <- npa
	}
	close(next)
	wg.Wait()
	return total, first
}

func (g *Generator) writeArea(dir string, npa int, exchanges []Exchange, form Form, zipped bool) (Stats, error) {
	name := fmt.Sprintf("%d.txt", npa)
	path := filepath.Join(dir, name)
	if zipped {
		path = filepath.Join(dir, fmt.Sprintf("%d.zip", npa))
	}
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	var out io.Writer = f
	var zw *zip.Writer
	if zipped {
		zw = zip.NewWriter(f)
		if out, err = zw.Create(name); err != nil {
			return Stats{}, err
		}
	}
	w := bufio.NewWriterSize(out, 1<<20)
	var st Stats
	var listed [LinesPerExchange]bool
	line := make([]byte, 0, 16)
	for _, x := range exchanges {
		g.Listed(x, &listed)
		for l, on := range listed {
			if !on {
				continue
			}
			line = AppendNumber(line[:0], x, l, form)
			line = append(line, '\n')
			w.Write(line)
			st.Numbers++
		}
	}
	if err := w.Flush(); err != nil {
		return Stats{}, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return Stats{}, err
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return Stats{}, err
	}
	st.Bytes = fi.Size()
	return st, f.Close()
}

// AppendNumber appends line l of exchange x in the given form.
func AppendNumber(dst []byte, x Exchange, l int, form Form) []byte {
	dst = append(dst, byte('0'+x.NPA/100), byte('0'+x.NPA/10%10), byte('0'+x.NPA%10))
	if form == AreaCommas {
		dst = append(dst, ',')
	}
	return append(dst, byte('0'+x.NXX/100), byte('0'+x.NXX/10%10), byte('0'+x.NXX%10),
		byte('0'+l/1000), byte('0'+l/100%10), byte('0'+l/10%10), byte('0'+l%10))
}

// Change is one line of a change list.
type Change struct {
	Number string // NPANXXXXXX
	Delete bool
}

// Changes returns n changes, half deletions of listed numbers and half
// additions of unlisted ones, in random exchanges, each number at most once.
func (g *Generator) Changes(n int, seed uint64) []Change {
	rng := rand.New(rand.NewPCG(g.cfg.Seed, seed^0x6368616e676573))
	seen := map[string]bool{}
	var listed [LinesPerExchange]bool
	out := make([]Change, 0, n)
	for len(out) < n {
		x := g.exchanges[rng.IntN(len(g.exchanges))]
		g.Listed(x, &listed)
		del := len(out)%2 == 0
		// Up to 8 changes per visit keep this fast without clustering them much.
		for range 8 {
			l := rng.IntN(LinesPerExchange)
			num := string(AppendNumber(nil, x, l, Digits))
			if listed[l] != del || seen[num] || len(out) == n {
				continue
			}
			seen[num] = true
			out = append(out, Change{Number: num, Delete: del})
			break
		}
	}
	return out
}

// WriteChanges writes changes as an FTC change list: NUMBER,DATE,A|D per line,
// no header (date as YYYY-MM-DD).
func WriteChanges(w io.Writer, changes []Change, date string) error {
	bw := bufio.NewWriter(w)
	for _, c := range changes {
		flag := "A"
		if c.Delete {
			flag = "D"
		}
		fmt.Fprintf(bw, "%s,%s,%s\n", c.Number, date, flag)
	}
	return bw.Flush()
}
