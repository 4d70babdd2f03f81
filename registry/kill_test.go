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
	data, old, gen := killImport(t, "written")

	// The killed import's data is there, under an id no list names...
	if ids := storageIDs(t, data); len(ids) != 2 {
		t.Errorf("storage ids after the kill: %v; want the old version and the killed import's", ids)
	}
	// ...and Open removes it; the old version answers.
	s := openStore(t, data)
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{old.Version}) {
		t.Errorf("data after reopening: %v; want only %d", v, old.Version)
	}
	wantListed(t, s, "ftc", "+12025550143", true)
	wantListed(t, s, "ftc", firstListed(gen), false)
	if lists, _ := s.Lists(); len(lists) != 1 || lists[0].Version != old.Version || lists[0].ImportID != "" {
		t.Errorf("lists %+v", lists)
	}
}

// An import killed with SIGKILL just after its switch committed, before it
// could answer or close the store, has its complete new version answering
// after the restart, with the import's id, so that whoever asked for it can
// tell; the next Open removes the old version's data.
func TestImportKilledJustAfterTheSwitchLeavesTheNewVersion(t *testing.T) {
	data, old, gen := killImport(t, "switched")
	s := openStore(t, data)
	lists, _ := s.Lists()
	if len(lists) != 1 || lists[0].Version == old.Version || lists[0].ImportID != killImportID {
		t.Fatalf("lists after the kill %+v; want a new version with import id %s", lists, killImportID)
	}
	if v := dataVersions(t, s); !slices.Equal(v, []uint64{lists[0].Version}) {
		t.Errorf("data after reopening: %v; want only the new version %d", v, lists[0].Version)
	}
	wantListed(t, s, "ftc", firstListed(gen), true)
	wantListed(t, s, "ftc", "+12025550143", false)
}

// killImportID is the id the killed child's import goes by.
const killImportID = "kill-test-import"

// killImport imports a one-number list, then runs TestKilledImportChild to
// import ~7 M generated numbers over it and kills it with SIGKILL once the
// child prints what (WRITTEN: all but the last batch written, SWITCHED: the
// switch committed). It returns the data folder, the old version and the
// generator of the killed import's numbers.
func killImport(t *testing.T, what string) (string, ListInfo, *ftcgen.Generator) {
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
	child.Env = append(os.Environ(), "GK_KILL_DATA="+data, "GK_KILL_FILES="+strings.Join(files, ","), "GK_KILL_AT="+what)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	reached := make(chan bool)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == strings.ToUpper(what) {
				reached <- true
				return
			}
		}
		close(reached)
	}()
	select {
	case ok := <-reached:
		if !ok {
			t.Fatalf("the child import ended before it was %s", what)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the child import was never %s", what)
	}
	child.Process.Kill()
	child.Wait()
	return data, old, gen
}

// storageIDs are the storage ids that hold data in the store in dir.
func storageIDs(t *testing.T, data string) map[uint64]bool {
	db, err := badger.Open(badgerOptions(data))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids := map[uint64]bool{}
	db.View(func(txn *badger.Txn) error {
		return iterate(txn, []byte{dataTag}, func(item *badger.Item) error {
			id, _ := storageOf(item.Key())
			ids[id] = true
			return nil
		})
	})
	return ids
}

// firstListed is the first listed number of the generator's first exchange, in E.164.
func firstListed(gen *ftcgen.Generator) string {
	x := gen.Exchanges()[0]
	var listed [ftcgen.LinesPerExchange]bool
	gen.Listed(x, &listed)
	return "+1" + string(ftcgen.AppendNumber(nil, x, slices.Index(listed[:], true), ftcgen.Digits))
}

// TestKilledImportChild is the process the tests above kill: it imports
// and stops, never to finish, once everything but the last batch is written
// (GK_KILL_AT=written) or once the import returned, its switch committed
// and the store not closed (switched).
func TestKilledImportChild(t *testing.T) {
	data := os.Getenv("GK_KILL_DATA")
	if data == "" {
		t.Skip("run by TestKilledImportLeavesThePreviousVersion")
	}
	s, err := Open(DefaultOptions(data))
	if err != nil {
		t.Fatal(err)
	}
	req := ImportRequest{List: "ftc", Files: strings.Split(os.Getenv("GK_KILL_FILES"), ","), Replace: true, ID: killImportID}
	if os.Getenv("GK_KILL_AT") == "written" {
		req.Progress = func(p Progress) {
			if p.Phase == "write" && p.Done == p.Total {
				time.Sleep(200 * time.Millisecond) // the batches already handed over reach the write-ahead log
				fmt.Println("WRITTEN")
				select {}
			}
		}
	}
	_, err = s.Import(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("SWITCHED")
	select {}
}
