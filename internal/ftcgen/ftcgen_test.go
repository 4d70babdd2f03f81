package ftcgen

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The data look like the registry and are the same for the same seed.
func TestGeneratorIsRealisticAndRepeatable(t *testing.T) {
	g := New(Config{AreaCodes: 3, Seed: 5})
	if len(g.AreaCodes()) != 3 || len(g.Exchanges()) != 3*defaultExchangesPerArea {
		t.Fatalf("%d area codes, %d exchanges", len(g.AreaCodes()), len(g.Exchanges()))
	}
	dir := t.TempDir()
	st, err := g.WriteFull(dir, AreaCommas, false, 2)
	if err != nil {
		t.Fatal(err)
	}
	density := float64(st.Numbers) / float64(len(g.Exchanges())*LinesPerExchange)
	if st.Files != 3 || density < 0.08 || density > 0.115 {
		t.Errorf("wrote %+v: %.1f%% of lines listed, want about 9.6%%", st, 100*density)
	}
	f, _ := os.Open(filepath.Join(dir, strconv.Itoa(g.AreaCodes()[0])+".txt"))
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	if line := sc.Text(); len(line) != 11 || line[3] != ',' || !strings.HasPrefix(line, strconv.Itoa(g.AreaCodes()[0])) {
		t.Errorf("first line %q; want NPA,NXXXXXX", line)
	}
	again, err := New(Config{AreaCodes: 3, Seed: 5}).WriteFull(t.TempDir(), AreaCommas, false, 1)
	if err != nil || again != st {
		t.Errorf("second run wrote %+v, first %+v", again, st)
	}

	// Changes delete listed numbers and add unlisted ones, each number once.
	changes := g.Changes(1000, 9)
	seen := map[string]bool{}
	var listed [LinesPerExchange]bool
	for _, c := range changes {
		x := exchangeOf(g, c.Number)
		g.Listed(x, &listed)
		line := int(c.Number[6]-'0')*1000 + int(c.Number[7]-'0')*100 + int(c.Number[8]-'0')*10 + int(c.Number[9]-'0')
		if listed[line] != c.Delete || seen[c.Number] {
			t.Fatalf("change %+v: listed %v, seen %v", c, listed[line], seen[c.Number])
		}
		seen[c.Number] = true
	}
	if len(changes) != 1000 {
		t.Errorf("%d changes", len(changes))
	}
}

func exchangeOf(g *Generator, number string) Exchange {
	for _, x := range g.Exchanges() {
		if strconv.Itoa(x.ID()) == number[:6] {
			return x
		}
	}
	panic(number)
}
