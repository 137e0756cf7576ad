package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tinyscale/tinyscale"
	"github.com/tinyscale/tinyscale/admin"
)

// ServersCommand is `tinyscale servers list|add|remove|enable|cordon|
// disable|panic`, talking to a running tinyscale's admin API.
type ServersCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Stdin answers the panic confirmation and carries the secret for
	// `add --secret-stdin`; default os.Stdin.
	Stdin io.Reader
}

// ServerSecretEnv is the environment variable `servers add` reads the
// secret from when no --secret flag is given, so it need not appear on the
// command line.
const ServerSecretEnv = "TINYSCALE_SERVER_SECRET"

const serversUsage = `Usage: tinyscale servers <command> [flags]

Commands:
  list                       list the servers
  add --host URL [flags]     add a server (the secret from --secret-stdin, $` + ServerSecretEnv + ` or --secret)
  remove ID... [--force]     remove servers (--force even with meetings running)
  enable ID...               let servers take new meetings
  cordon ID...               take no new meetings; running meetings go on
  disable ID...              like cordon, and no traffic once the meetings have ended
  panic ID [--yes]           end every meeting on a server and cordon it

Every command takes --url, --token, --json and --timeout; run
'tinyscale servers <command> -h' for its flags.
`

// Run implements command.
func (c *ServersCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.Stderr, serversUsage)
		return fmt.Errorf("%w: missing command (list, add, remove, enable, cordon, disable or panic)", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list", "ls":
		return c.list(ctx, args)
	case "add":
		return c.add(ctx, args)
	case "remove", "rm", "delete":
		return c.remove(ctx, args)
	case "enable":
		return c.setState(ctx, sub, tinyscale.StateEnabled, args)
	case "cordon":
		return c.setState(ctx, sub, tinyscale.StateCordoned, args)
	case "disable":
		return c.setState(ctx, sub, tinyscale.StateDisabled, args)
	case "panic":
		return c.panicServer(ctx, args)
	case "help", "-h", "--help":
		fmt.Fprint(c.Stdout, serversUsage)
		return nil
	}
	fmt.Fprint(c.Stderr, serversUsage)
	return fmt.Errorf("%w: unknown command %q", errUsage, sub)
}

func (c *ServersCommand) stdin() io.Reader {
	if c.Stdin != nil {
		return c.Stdin
	}
	return os.Stdin
}

func (c *ServersCommand) getenv(name string) string {
	if c.Getenv == nil {
		return ""
	}
	return c.Getenv(name)
}

func (c *ServersCommand) list(ctx context.Context, args []string) error {
	fs, o := newAdminFlagSet("servers list", "Usage: tinyscale servers list [--json]\n", c.Stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: list takes no arguments, got %q", errUsage, pos[0])
	}
	client := o.client(c.Getenv)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	servers, err := client.Servers(ctx)
	if err != nil {
		return adminError(err, client.BaseURL)
	}
	if o.json {
		if servers == nil {
			servers = []admin.Server{}
		}
		return writeJSONOut(c.Stdout, servers)
	}
	if len(servers) == 0 {
		fmt.Fprintln(c.Stderr, "No servers.")
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "ID\tHOST\tSTATE\tHEALTH\tWEIGHT\tTAGS\tSOURCE")
	for _, s := range servers {
		tags := strings.Join(s.Tags, ",")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%g\t%s\t%s\n", s.ID, s.Host, s.State, s.Health, s.Weight,
			cellText(tags, 40), cellText(s.Source, 10))
	}
	return tw.Flush()
}

const addUsage = `Usage: tinyscale servers add --host URL [--secret-stdin] [--id ID] [--weight N] [--tags a,b] [--state S] [--algorithm A]

Adds a BBB server. tinyscale probes it first: a wrong secret or a URL that
is not a BBB API is refused; an unreachable server is added as down.

The secret is read, in this order, from standard input (--secret-stdin, one
line; e.g. ssh bbb4 bbb-conf --secret | …), from $` + ServerSecretEnv + `, or
from --secret (visible to other users of this machine; avoid it).
`

func (c *ServersCommand) add(ctx context.Context, args []string) error {
	fs, o := newAdminFlagSet("servers add", addUsage, c.Stderr)
	var req admin.AddServerRequest
	var tags, state string
	var secretStdin bool
	fs.StringVar(&req.Host, "host", "", "the server's URL, e.g. https://bbb4.example.org (required)")
	fs.StringVar(&req.Secret, "secret", "", "the server's secret (prefer --secret-stdin or $"+ServerSecretEnv+")")
	fs.BoolVar(&secretStdin, "secret-stdin", false, "read the secret from the first line of standard input")
	fs.StringVar(&req.ID, "id", "", "server ID (default derived from the host)")
	fs.Float64Var(&req.Weight, "weight", 0, "capacity weight (default 1)")
	fs.StringVar(&tags, "tags", "", "comma-separated tags")
	fs.StringVar(&state, "state", "", "initial state: enabled (default), cordoned or disabled")
	fs.StringVar(&req.Algorithm, "algorithm", "", "checksum algorithm toward the server: sha1, sha256 (default), sha384 or sha512")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return fmt.Errorf("%w: add takes flags only, got %q", errUsage, pos[0])
	case req.Host == "":
		return fmt.Errorf("%w: add needs --host URL", errUsage)
	case secretStdin && req.Secret != "":
		return fmt.Errorf("%w: give the secret once: --secret or --secret-stdin", errUsage)
	}
	if secretStdin {
		line, err := bufio.NewReader(c.stdin()).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the secret from standard input: %w", err)
		}
		req.Secret = strings.TrimSpace(line)
	}
	if req.Secret == "" {
		req.Secret = strings.TrimSpace(c.getenv(ServerSecretEnv))
	}
	if req.Secret == "" {
		return fmt.Errorf("%w: add needs the server's secret (--secret-stdin, $%s or --secret)", errUsage, ServerSecretEnv)
	}
	for _, t := range strings.Split(tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			req.Tags = append(req.Tags, t)
		}
	}
	req.State = tinyscale.ServerState(state)

	client := o.client(c.Getenv)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := client.AddServer(ctx, req)
	if err != nil {
		return adminError(err, client.BaseURL)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.Stderr, "warning: %s\n", w)
	}
	if o.json {
		return writeJSONOut(c.Stdout, res)
	}
	s := res.Server
	fmt.Fprintf(c.Stdout, "server %s added: %s (%s, %s)\n", s.ID, s.Host, s.State, s.Health)
	return nil
}

func (c *ServersCommand) remove(ctx context.Context, args []string) error {
	fs, o := newAdminFlagSet("servers remove", "Usage: tinyscale servers remove ID... [--force]\n", c.Stderr)
	force := fs.Bool("force", false, "remove even if meetings are running on the server (they are forgotten)")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: remove needs a server ID", errUsage)
	}
	client := o.client(c.Getenv)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var results []admin.RemoveResult
	var errs []error
	for _, id := range ids {
		res, err := client.RemoveServer(ctx, id, *force)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, adminError(err, client.BaseURL)))
			continue
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(c.Stderr, "warning: %s\n", w)
		}
		results = append(results, res)
		if !o.json {
			fmt.Fprintf(c.Stdout, "server %s removed", res.ID)
			if res.Forgotten > 0 {
				fmt.Fprintf(c.Stdout, " (%s forgotten)", plural(res.Forgotten, "meeting", "meetings"))
			}
			fmt.Fprintln(c.Stdout)
		}
	}
	if o.json {
		if err := writeJSONOut(c.Stdout, oneOrMany(results)); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// pastTense names the state a command leaves a server in.
var pastTense = map[tinyscale.ServerState]string{
	tinyscale.StateEnabled:  "enabled",
	tinyscale.StateCordoned: "cordoned",
	tinyscale.StateDisabled: "disabled",
}

func (c *ServersCommand) setState(ctx context.Context, name string, st tinyscale.ServerState, args []string) error {
	fs, o := newAdminFlagSet("servers "+name, "Usage: tinyscale servers "+name+" ID...\n", c.Stderr)
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("%w: %s needs a server ID", errUsage, name)
	}
	client := o.client(c.Getenv)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var results []admin.Server
	var errs []error
	for _, id := range ids {
		s, err := client.SetState(ctx, id, st)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, adminError(err, client.BaseURL)))
			continue
		}
		results = append(results, s)
		if !o.json {
			fmt.Fprintf(c.Stdout, "server %s %s\n", s.ID, pastTense[s.State])
		}
	}
	if o.json && len(results) > 0 {
		if err := writeJSONOut(c.Stdout, oneOrMany(results)); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// oneOrMany returns the only element of a one-element slice, else the slice.
func oneOrMany[T any](xs []T) any {
	if len(xs) == 1 {
		return xs[0]
	}
	if xs == nil {
		return []T{}
	}
	return xs
}

const panicUsage = `Usage: tinyscale servers panic ID [--yes] [--keep-state]

Ends every meeting on the server now (everyone in them is disconnected) and
forgets them, so that their next create starts them on another server. An
enabled server is cordoned first unless --keep-state is given. Asks for
confirmation unless --yes is given.
`

func (c *ServersCommand) panicServer(ctx context.Context, args []string) error {
	fs, o := newAdminFlagSet("servers panic", panicUsage, c.Stderr)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	keep := fs.Bool("keep-state", false, "do not cordon the server")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return fmt.Errorf("%w: panic needs exactly one server ID", errUsage)
	}
	id := ids[0]
	client := o.client(c.Getenv)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if !*yes {
		s, err := client.Server(ctx, id)
		if err != nil {
			return adminError(err, client.BaseURL)
		}
		then := "and cordon it"
		if *keep || s.State != tinyscale.StateEnabled {
			then = "(its state stays " + string(s.State) + ")"
		}
		fmt.Fprintf(c.Stderr, "This ends every meeting on %s now (%d at the last poll) %s.\nEveryone in them is disconnected. Type yes to continue: ",
			id, s.Meetings, then)
		line, _ := bufio.NewReader(c.stdin()).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "yes" && a != "y" {
			fmt.Fprintln(c.Stderr)
			return errors.New("aborted; nothing was changed (use --yes to skip the question)")
		}
	}
	res, err := client.Panic(ctx, id, *keep)
	if err != nil {
		return adminError(err, client.BaseURL)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.Stderr, "warning: %s\n", w)
	}
	for _, f := range res.Failed {
		fmt.Fprintf(c.Stderr, "warning: could not end %s: %s\n", f.MeetingID, f.Error)
	}
	if o.json {
		return writeJSONOut(c.Stdout, res)
	}
	fmt.Fprintf(c.Stdout, "server %s: %s ended, %d forgotten; state %s\n", id, plural(res.Ended, "meeting", "meetings"), res.Forgotten, res.Server.State)
	if len(res.Failed) > 0 {
		return fmt.Errorf("%s could not be ended", plural(len(res.Failed), "meeting", "meetings"))
	}
	return nil
}

// plural returns "1 meeting" or "n meetings".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
