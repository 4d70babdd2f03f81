package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/configs"
	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// configPath is the root command's --config as cmd inherits it: empty when not given.
func configPath(cmd *cobra.Command) string {
	return cmd.Flag("config").Value.String()
}

// loadConfig reads the config file --config names, or the embedded defaults
// (configs/gatekeeper.yaml, paths relative to the working directory) when it is not given.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	if path := configPath(cmd); path != "" {
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
// named with its line and column before anything is changed.
func checkPolicyFile(cfg *config.Config) error {
	_, err := parsePolicyFile(cfg)
	return err
}

// parsePolicyFile reads and parses the policy file, to look at it only:
// Parse consults no registry, so none is given.
func parsePolicyFile(cfg *config.Config) (*policy.Engine, error) {
	name, text, err := readPolicyFile(cfg)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return policy.Parse(name, text, nil)
}

// checkListDeclared refuses a DNC list that the policy does not declare
// under lists: (policy.Engine.CheckList), unless undeclared. Through a
// running server (reg an *admin.Client) the server checks it, against the
// policy in force (serve's listCheck).
func checkListDeclared(reg registryAccess, cfg *config.Config, list string, undeclared bool) error {
	if _, server := reg.(*admin.Client); server || undeclared {
		return nil
	}
	engine, err := parsePolicyFile(cfg)
	if err != nil {
		return fmt.Errorf("cannot check the list's name: %w (or give --undeclared)", err)
	}
	return listCheck(engine, list)
}

// listCheck is engine's CheckList with what to do about a refusal, for
// the commands and for tools that post to the admin socket.
func listCheck(engine *policy.Engine, list string) error {
	if err := engine.CheckList(list); err != nil {
		return fmt.Errorf("%w: declare it there first, or say it is undeclared (--undeclared, or \"undeclared\": true)", err)
	}
	return nil
}
