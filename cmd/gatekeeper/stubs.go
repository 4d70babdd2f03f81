package main

// Placeholders: each subcommand's own file replaces its stub.

import "github.com/spf13/cobra"

func newServeCmd() *cobra.Command  { return &cobra.Command{Use: "serve"} }
func newImportCmd() *cobra.Command { return &cobra.Command{Use: "import"} }
func newLookupCmd() *cobra.Command { return &cobra.Command{Use: "lookup"} }
func newListsCmd() *cobra.Command  { return &cobra.Command{Use: "lists"} }
func newCheckCmd() *cobra.Command  { return &cobra.Command{Use: "check"} }
