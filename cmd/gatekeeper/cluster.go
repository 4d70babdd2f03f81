package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeeper-sip/gatekeeper/cluster"
	"github.com/gatekeeper-sip/gatekeeper/internal/admin"
	"github.com/gatekeeper-sip/gatekeeper/internal/config"
	"github.com/gatekeeper-sip/gatekeeper/policy"
)

// catchUpWait bounds how long serve waits, before it takes calls, for this
// node to apply what the cluster's buckets hold (300,000 opt-outs take
// about 1.2 s on loopback).
const catchUpWait = 5 * time.Minute

// openCluster joins the cluster of the config's cluster section, running
// the embedded NATS server when there is one, and waits until this node has
// applied the shared opt-outs and consents: a node that restarts catches up
// before it takes calls. Without the section it does nothing.
func (g *gatekeeper) openCluster() error {
	c := g.cfg.Cluster
	if c == nil {
		return nil
	}
	if c.Embedded != nil {
		e := *c.Embedded
		e.StoreDir = g.cfg.Path(e.StoreDir)
		s, err := cluster.Embed(c.Node, e)
		if err != nil {
			return fmt.Errorf("cluster.embedded: %w", err)
		}
		g.onClose(func() { s.Shutdown(); s.WaitForShutdown() })
		g.log.Info("embedded NATS server running", "listen", e.Listen, "routes_listen", e.RoutesListen, "store_dir", e.StoreDir)
	}
	node, err := cluster.Open(context.Background(), clusterOptions(g.cfg, g.dataDir, g))
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	g.cluster = node
	g.clusterGate = &clusterGate{node: node, mode: c.Unreachable}
	g.onClose(node.Close)
	start := time.Now()
	select {
	case <-node.CaughtUp():
		g.log.Info("caught up with the cluster", "node", c.Node, "took", time.Since(start).Round(time.Millisecond))
		return nil
	case <-time.After(catchUpWait):
		return fmt.Errorf("cluster: this node did not catch up with the shared opt-outs and consents within %s", catchUpWait)
	}
}

// clusterOptions are the node's options from the config; g is nil for a
// node that is not running (cluster status).
func clusterOptions(cfg *config.Config, dataDir string, g *gatekeeper) cluster.Options {
	c := cfg.Cluster
	opts := cluster.Options{Node: c.Node, URLs: c.NATS, Replicas: c.Replicas, Cursor: filepath.Join(dataDir, "cluster.cursor"),
		Staleness: time.Duration(c.Staleness), Spent: policy.ConsentSpent}
	if g != nil {
		opts.Sink, opts.Log, opts.OnApplied = g.store, g.log.With("part", "cluster"), g.recordApplied
	}
	return opts
}

// recordApplied writes the data_change records of a change this node
// applied from the cluster, as it does for a change made through its admin
// socket: each node's log names every data version its decisions cite.
func (g *gatekeeper) recordApplied(a cluster.Applied) {
	c := admin.Change{Live: a.Live, Consent: a.Consent}
	if err := appendChange(g.decisions, g.now(), g.store, c); err != nil {
		g.log.Error("audit: a change from the cluster was applied, but its record failed", "from_node", a.Node, "error", err)
	}
}

// decisionRegistry is what the policy asks: the registry, with the
// cluster's frequency caps when in a cluster.
func (g *gatekeeper) decisionRegistry() policy.Registry {
	if g.cluster == nil {
		return g.store
	}
	return cluster.Registry{Store: g.store, Node: g.cluster}
}

// shared is where live and consent changes go besides this registry: the
// cluster, or nowhere (nil).
func (g *gatekeeper) shared() admin.Shared {
	if g.cluster == nil {
		return nil
	}
	return g.cluster
}

// openShared is registryFlags.open for a live or consent change: in a
// cluster it must go through a running node, which sends it to every node;
// written into this node's registry alone, the other nodes would never see it.
func (f *registryFlags) openShared(cmd *cobra.Command) (registryAccess, *config.Config, error) {
	reg, cfg, err := f.open(cmd)
	if err != nil || cfg.Cluster == nil {
		return reg, cfg, err
	}
	if _, viaServer := reg.(*admin.Client); !viaServer {
		reg.Close()
		_, socket, _ := registryPaths(cfg, f.dataDir) // open succeeded with the same paths
		return nil, nil, fmt.Errorf("no gatekeeper answers on the admin socket %s: in a cluster (node %s), opt-outs and consents go through a running node, so that every node applies them", socket, cfg.Cluster.Node)
	}
	return reg, cfg, nil
}

func newClusterCmd() *cobra.Command {
	var flags registryFlags
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster this gatekeeper shares opt-outs, consents and caps with",
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's servers, buckets and cap streams, and how far this node is behind",
		Long: `status asks the cluster of the config's cluster section for its key-value
buckets (live opt-outs, consent changes) and its cap streams (one per
frequency cap), with the server that leads each and how current its
replicas are, and shows how far this node's registry is behind each bucket
(the revisions written that it has not applied).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			if cfg.Cluster == nil {
				return fmt.Errorf("the config has no cluster section: this gatekeeper runs alone")
			}
			dir, _, err := registryPaths(cfg, flags.dataDir)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := cluster.Survey(ctx, clusterOptions(cfg, dir, nil))
			if err != nil {
				return err
			}
			return printClusterStatus(cmd.OutOrStdout(), st)
		},
	}
	flags.add(status)
	cmd.AddCommand(status)
	return cmd
}

func printClusterStatus(w io.Writer, st cluster.Status) error {
	fmt.Fprintf(w, "node %s, connected to NATS server %s\n\n", st.Node, st.Server)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tMESSAGES\tSUBJECTS\tLAST\tAPPLIED\tBEHIND\tSINCE\tLEADER\tREPLICAS")
	row := func(kind string, s cluster.StreamStatus) {
		var peers []string
		for _, p := range s.Replicas {
			state := "current"
			if !p.Current {
				state = fmt.Sprintf("lag %d", p.Lag)
			}
			peers = append(peers, p.Name+" ("+state+")")
		}
		applied, behind, since := "-", "-", "-"
		if kind == "bucket" {
			applied, behind = fmt.Sprint(s.Applied), fmt.Sprint(s.Behind)
		}
		if !s.Since.IsZero() {
			since = time.Since(s.Since).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", kind, s.Name, s.Messages, s.Subjects, s.LastSeq, applied, behind, since, s.Leader, strings.Join(peers, ", "))
	}
	for _, s := range st.Buckets {
		row("bucket", s)
	}
	for _, s := range st.CapStreams {
		row("caps", s)
	}
	return tw.Flush()
}
