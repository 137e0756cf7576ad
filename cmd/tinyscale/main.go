// Command tinyscale is a load balancer for BigBlueButton: one BBB API URL
// and secret in front of many BBB servers. The same binary is the admin CLI,
// a demo with simulated servers, and a load generator.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand. Run gets the arguments after the command name.
type command interface {
	Run(ctx context.Context, args []string) error
}

// errUsage marks errors that are the caller's wording (exit code 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling: a second
	// Ctrl-C or SIGTERM ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

const usage = `tinyscale — one BigBlueButton API in front of many BBB servers

Usage:
  tinyscale [serve] [flags]        run the gateway (configured by environment or flags)
  tinyscale demo [flags]           run the gateway with 3 simulated BBB servers
  tinyscale status [--json]        show the fleet (admin API)
  tinyscale servers list|add|remove|enable|cordon|disable|panic …
  tinyscale load [flags]           drive a BBB API with load and report throughput
  tinyscale version                print the version

Run 'tinyscale <command> -h' for a command's flags.
`

// run dispatches to a subcommand and returns the exit code. lookupEnv
// reads the environment, as os.LookupEnv does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	getenv := func(k string) string { v, _ := lookupEnv(k); return v }
	name := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	var cmd command
	switch name {
	case "serve":
		cmd = &ServeCommand{Stdout: stdout, Stderr: stderr, Getenv: getenv, LookupEnv: lookupEnv}
	case "demo":
		cmd = &DemoCommand{Stdout: stdout, Stderr: stderr}
	case "servers":
		cmd = &ServersCommand{Stdout: stdout, Stderr: stderr, Getenv: getenv}
	case "status":
		cmd = &StatusCommand{Stdout: stdout, Stderr: stderr, Getenv: getenv}
	case "load":
		cmd = &LoadCommand{Stdout: stdout, Stderr: stderr, Getenv: getenv}
	case "version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "tinyscale: unknown command %q\n\n%s", name, usage)
		return exitUsage
	}
	if err := cmd.Run(ctx, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "tinyscale %s: %v\n", name, err)
		if errors.Is(err, errUsage) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}
