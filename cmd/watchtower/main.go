// Command watchtower is the Oracle-DAO daemon and the simulated network.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "watchtower:", err)
		os.Exit(1)
	}
}

// simnetCommands lets other files of this package register `simnet` subcommands.
var simnetCommands []func() *cobra.Command

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "watchtower",
		Short:         "Oracle-DAO watchtower for Rocket Pool smoothing-pool rewards",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	simnet := &cobra.Command{Use: "simnet", Short: "Run parts of the simulated network on loopback"}
	for _, c := range simnetCommands {
		simnet.AddCommand(c())
	}
	root.AddCommand(simnet, newRunCmd(), newSimCmd())
	return root
}
