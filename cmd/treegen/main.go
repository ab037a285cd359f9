// Command treegen is the auditor's tool: it verifies, converts and explains
// Rocket Pool rewards tree files, and (with the rewards engine) computes them.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// errReported marks a failure whose details were already printed.
var errReported = errors.New("failed")

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "treegen:", err)
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "treegen",
		Short:         "Build, verify and explain Rocket Pool rewards tree files",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVerifyFileCmd(), newProofCmd(), newConvertCmd(), newCIDCmd())
	for _, extra := range extraCommands {
		root.AddCommand(extra())
	}
	for _, hook := range rootHooks {
		hook(root)
	}
	return root
}

// rootHooks lets other files of this package add flags and a run function to the root command.
var rootHooks []func(*cobra.Command)

// extraCommands lets other files of this package register commands.
var extraCommands []func() *cobra.Command
