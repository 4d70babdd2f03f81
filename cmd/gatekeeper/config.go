package main

import (
	"fmt"
	"os"

	"github.com/gatekeeper-sip/gatekeeper/configs"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// loadConfig reads the config file at path, or the embedded defaults
// (configs/gatekeeper.yaml, paths relative to the working directory) when path is empty.
func loadConfig(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	data, err := configs.Files.ReadFile("gatekeeper.yaml")
	if err != nil {
		return nil, err
	}
	return config.Parse("(embedded) gatekeeper.yaml", data)
}

// readPolicyFile returns the policy file's name and text: the configured file,
// or the embedded configs/policy.yaml when the config itself is the embedded one.
func readPolicyFile(cfg *config.Config) (name string, data []byte, err error) {
	if cfg.Dir == "" {
		data, err = configs.Files.ReadFile("policy.yaml")
		return "(embedded) policy.yaml", data, err
	}
	name = cfg.Path(cfg.Policy)
	data, err = os.ReadFile(name)
	return name, data, err
}

// checkPolicyFile reads and parses the policy file, so that a bad one is
// named with its line and column before anything is changed. Parse consults
// no registry, so none is given.
func checkPolicyFile(cfg *config.Config) error {
	name, text, err := readPolicyFile(cfg)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	_, err = policy.Parse(name, text, nil)
	return err
}
