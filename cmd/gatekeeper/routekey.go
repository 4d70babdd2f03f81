package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatekeeper-sip/gatekeeper/sip"
)

// routeKeyFile is the file in the data folder that keeps the key sealing
// dialogs into Record-Route entries, so that calls set up before a restart
// can still be hung up after it (sip/routekey.go).
const routeKeyFile = "route.key"

// loadRouteKey reads the route key in dir, creating it on first start. The
// key is written whole under another name and linked into place, so that a
// crash while creating it leaves no truncated key behind.
func loadRouteKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, routeKeyFile)
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createRouteKey(path); err != nil {
			return nil, fmt.Errorf("creating %s: %w", path, err)
		}
		text, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(key) != sip.RouteKeySize {
		return nil, fmt.Errorf("%s: want %d hex digits (delete the file to make a new key; calls up now then can no longer be hung up through the gatekeeper)", path, 2*sip.RouteKeySize)
	}
	return key, nil
}

func createRouteKey(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), routeKeyFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(sip.NewRouteKey()) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Another process that created the key first wins: both then read its key.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	dirf, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dirf.Close()
	return dirf.Sync()
}
