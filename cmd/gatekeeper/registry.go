package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	AbandonmentPeriods() ([]registry.AbandonmentPeriod, error)
	Close() error
	dataSetAccess // kinds.go
}

// pingTimeout bounds the question "is a server running?"; a live server answers in microseconds.
const pingTimeout = 2 * time.Second

// openRegistry reaches the registry of cfg, or the one in dataDir when it is
// not empty. Badger allows one process per directory, so when a server's
// admin socket answers, the CLI goes through it; otherwise it opens the store,
// creating its folder. A command that only reads (toRead) creates nothing: where
// the folder does not exist it gets an empty registry.
func openRegistry(cfg *config.Config, dataDir string, toRead bool) (registryAccess, error) {
	dir, socket, err := registryPaths(cfg, dataDir)
	if err != nil {
		return nil, err
	}
	client := admin.NewClient(socket)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	pingErr := client.Ping(ctx)
	if pingErr == nil {
		return client, nil
	}
	client.Close()

	opts := storeOptions(cfg, dir)
	if _, err := os.Stat(dir); toRead && errors.Is(err, fs.ErrNotExist) {
		opts.Dir = "" // in memory: nothing was imported here yet
	}
	store, err := registry.Open(opts)
	if errors.Is(err, registry.ErrLocked) {
		return nil, fmt.Errorf("the registry in %s is in use by another process (a running `gatekeeper serve`?), "+
			"and no server answers on its admin socket %s (%v): give the same --config as that server, or stop it", dir, socket, pingErr)
	}
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", dir, err)
	}
	return store, nil
}

// storeOptions are the options of the registry in dir, as cfg sets them.
func storeOptions(cfg *config.Config, dir string) registry.Options {
	opts := registry.DefaultOptions(dir)
	if cfg.Import.MaxRemoval != nil {
		opts = opts.WithMaxRemoval(float64(*cfg.Import.MaxRemoval))
	}
	return opts
}

// registryPaths are the registry's folder, absolute, and its admin socket:
// data_dir of cfg (relative to the config file's folder, or to the working
// directory for the embedded config), or dataDir when it is not empty.
func registryPaths(cfg *config.Config, dataDir string) (dir, socket string, err error) {
	c := *cfg
	if dataDir != "" {
		c.DataDir = dataDir // a flag is relative to the working directory
	} else {
		c.DataDir = c.Path(c.DataDir)
	}
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return "", "", err
	}
	return c.DataDir, c.AdminSocket(), nil
}

// noListsIn says that a registry holds no list, naming its folder, so that a
// registry looked for in the wrong place shows at once.
func noListsIn(dir string) string {
	return fmt.Sprintf("no lists imported yet in %s (gatekeeper import --list NAME FILE...)", dir)
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

// open loads the config of cmd's --config and reaches its registry, to
// change it. A server records the changes made through it in its audit log;
// when the CLI opens the registry itself, it opens that audit log too, and
// records them there.
func (f *registryFlags) open(cmd *cobra.Command) (registryAccess, *config.Config, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, nil, err
	}
	reg, err := openRegistry(cfg, f.dataDir, false)
	if err != nil {
		return nil, nil, err
	}
	if store, ok := reg.(*registry.Store); ok {
		recording, err := openRecordingStore(cfg, store)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		return recording, cfg, nil
	}
	return reg, cfg, nil
}

// read loads the config and reaches its registry to read it, creating
// nothing; dir is the registry's folder, for messages.
func (f *registryFlags) read(cmd *cobra.Command) (reg registryAccess, cfg *config.Config, dir string, err error) {
	if cfg, err = loadConfig(cmd); err != nil {
		return nil, nil, "", err
	}
	if dir, _, err = registryPaths(cfg, f.dataDir); err != nil {
		return nil, nil, "", err
	}
	reg, err = openRegistry(cfg, f.dataDir, true)
	return reg, cfg, dir, err
}
