package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
	"github.com/gatekeeper-sip/gatekeeper/registry"
)

// registryAccess is the registry as the CLI sees it: the Badger store itself,
// or the running server's admin socket when `gatekeeper serve` holds the store.
type registryAccess interface {
	policy.Registry
	Import(ctx context.Context, req registry.ImportRequest) (registry.ListInfo, error)
	Lookup(e164 string) (registry.Report, error)
	Lists() ([]registry.ListInfo, error)
	Version(id uint64) (registry.ListInfo, error)
	ChangeLive(req registry.LiveRequest) ([]registry.Change, error)
	Close() error
	dataSetAccess // kinds.go
}

// pingTimeout bounds the question "is a server running?"; a live server answers in microseconds.
const pingTimeout = 2 * time.Second

// openRegistry reaches the registry of cfg, or the one in dataDir when it is
// not empty. Badger allows one process per directory, so when a server's
// admin socket answers, the CLI goes through it; otherwise it opens the store.
func openRegistry(cfg *config.Config, dataDir string) (registryAccess, error) {
	c := *cfg
	if dataDir != "" {
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return nil, err
		}
		c.DataDir = abs
	}
	dir, socket := c.Path(c.DataDir), c.AdminSocket()

	client := admin.NewClient(socket)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	pingErr := client.Ping(ctx)
	if pingErr == nil {
		return client, nil
	}
	client.Close()

	store, err := registry.Open(registry.DefaultOptions(dir))
	if errors.Is(err, registry.ErrLocked) {
		return nil, fmt.Errorf("the registry in %s is in use by another process (a running `gatekeeper serve`?), "+
			"and no server answers on its admin socket %s (%v): give the same --config as that server, or stop it", dir, socket, pingErr)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", dir, err)
	}
	return store, nil
}

// registryFlags are the flags of the commands that work on the registry,
// besides the root command's --config.
type registryFlags struct {
	dataDir string
}

func (f *registryFlags) add(cmd *cobra.Command) { f.register(cmd.Flags()) }

func (f *registryFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "", "the registry's directory (default: data_dir of the config)")
}

// open loads the config of cmd's --config and reaches its registry.
func (f *registryFlags) open(cmd *cobra.Command) (registryAccess, *config.Config, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, nil, err
	}
	reg, err := openRegistry(cfg, f.dataDir)
	return reg, cfg, err
}
