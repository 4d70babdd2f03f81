package registry

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/gatekeeper-sip/gatekeeper/internal/ftcgen"
)

// An import killed with SIGKILL while it writes leaves the previous version
// answering, and the next Open removes what it had written.
func TestKilledImportLeavesThePreviousVersion(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s, err := Open(DefaultOptions(data))
	if err != nil {
		t.Fatal(err)
	}
	old := importFiles(t, s, "ftc", writeFile(t, dir, "old.txt", "2025550143\n"))
	s.Close()
	gen := ftcgen.New(ftcgen.Config{AreaCodes: 10, Seed: 7}) // ~5 MB of bitmaps: more than one write batch
	if _, err := gen.WriteFull(dir, ftcgen.Digits, false, 2); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "[0-9]*.txt"))

	child := exec.Command(os.Args[0], "-test.run=^TestKilledImportChild$", "-test.v")
	child.Env = append(os.Environ(), "GK_KILL_DATA="+data, "GK_KILL_FILES="+strings.Join(files, ","))
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	writing := make(chan bool)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "WRITTEN" {
				writing <- true
				return
			}
		}
		close(writing)
	}()
	select {
	case ok := <-writing:
		if !ok {
			t.Fatal("the child import ended before writing")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the child import never started writing")
	}
	child.Process.Kill()
	child.Wait()

	// The killed import's data is there, under an id no list names...
	db, err := badger.Open(badgerOptions(data))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[uint64]bool{}
	db.View(func(txn *badger.Txn) error {
		return iterate(txn, []byte{dataTag}, func(item *badger.Item) error {
			id, _ := storageOf(item.Key())
			ids[id] = true
			return nil
		})
	})
	db.Close()
	if len(ids) != 2 {
		t.Errorf("storage ids after the kill: %v; want the old version and the killed import's", ids)
	}
	// ...and Open removes it; the old version answers.
	s = openStore(t, data)
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{old.Version}) {
		t.Errorf("data after reopening: %v; want only %d", v, old.Version)
	}
	wantListed(t, s, "ftc", "+12025550143", true)
	x := gen.Exchanges()[0]
	var listed [ftcgen.LinesPerExchange]bool
	gen.Listed(x, &listed)
	line := slices.Index(listed[:], true)
	wantListed(t, s, "ftc", "+1"+string(ftcgen.AppendNumber(nil, x, line, ftcgen.Digits)), false)
	if lists, _ := s.Lists(); len(lists) != 1 || lists[0].Version != old.Version {
		t.Errorf("lists %+v", lists)
	}
}

// TestKilledImportChild is the process the test above kills: it imports and
// stops, never to finish, once everything but the last batch is written.
func TestKilledImportChild(t *testing.T) {
	data := os.Getenv("GK_KILL_DATA")
	if data == "" {
		t.Skip("run by TestKilledImportLeavesThePreviousVersion")
	}
	s, err := Open(DefaultOptions(data))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Import(context.Background(), ImportRequest{List: "ftc", Files: strings.Split(os.Getenv("GK_KILL_FILES"), ","), Replace: true, Progress: func(p Progress) {
		if p.Phase == "write" && p.Done == p.Total {
			time.Sleep(200 * time.Millisecond) // the batches already handed over reach the write-ahead log
			fmt.Println("WRITTEN")
			select {}
		}
	}})
	t.Fatalf("the import returned (%v); it should have been killed", err)
}
