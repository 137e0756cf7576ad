package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tinyscale/tinyscale/admin"
)

// StatusCommand is `tinyscale status`: the fleet as a table (or JSON),
// read from a running tinyscale's admin API.
type StatusCommand struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

const statusUsage = `Usage: tinyscale status [--json] [--url URL] [--token TOKEN]

Shows every server with its state, health, meetings, participants, load and
last error, from the admin API of a running tinyscale.
`

// Run implements command.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	fs, o := newAdminFlagSet("status", statusUsage, c.Stderr)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: status takes no arguments, got %q", errUsage, pos[0])
	}
	client := o.client(c.Getenv)
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st, err := client.Status(ctx)
	if err != nil {
		return adminError(err, client.BaseURL)
	}
	if o.json {
		return writeJSONOut(c.Stdout, st)
	}
	if !st.Store.OK {
		fmt.Fprintf(c.Stderr, "warning: the store is unreachable: %s\n", st.Store.Error)
	}
	if len(st.Servers) == 0 {
		fmt.Fprintln(c.Stderr, "No servers.")
		return nil
	}
	tw := newTable(c.Stdout)
	fmt.Fprintln(tw, "SERVER\tSTATE\tHEALTH\tMEETINGS\tPARTICIPANTS\tLOAD\tLAST ERROR")
	for _, s := range st.Servers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.ID, s.State, s.Health,
			s.Meetings, s.Participants, formatLoad(s.Load), cellText(s.LastError, 60))
	}
	return tw.Flush()
}

// adminOptions are the flags every admin subcommand takes.
type adminOptions struct {
	url, token string
	json       bool
	timeout    time.Duration
}

// newAdminFlagSet returns a flag set with the common admin flags.
func newAdminFlagSet(name, usage string, stderr io.Writer) (*flag.FlagSet, *adminOptions) {
	o := &adminOptions{}
	fs := flag.NewFlagSet("tinyscale "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "", "tinyscale's base URL ($TINYSCALE_ADMIN_URL; default http://127.0.0.1:$PORT)")
	fs.StringVar(&o.token, "token", "", "admin token ($TINYSCALE_ADMIN_TOKEN)")
	fs.BoolVar(&o.json, "json", false, "print JSON for scripts")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up after this long")
	return fs, o
}

// client builds the admin client from the flags and the environment.
func (o *adminOptions) client(getenv func(string) string) *admin.Client {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	base := o.url
	if base == "" {
		base = getenv("TINYSCALE_ADMIN_URL")
	}
	if base == "" {
		port := "3005"
		if p := getenv("PORT"); p != "" {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				port = p
			}
		}
		base = "http://127.0.0.1:" + port
	}
	token := o.token
	if token == "" {
		token = getenv("TINYSCALE_ADMIN_TOKEN")
	}
	return &admin.Client{BaseURL: base, Token: token}
}

// parseInterspersed parses flags anywhere among the positional arguments
// (`servers cordon bbb1 --json`), stopping at "--". Flag errors are usage
// errors; -h returns flag.ErrHelp.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// adminError makes client errors readable: API errors carry the server's
// message; a connection failure says where it tried and how to change it.
func adminError(err error, base string) error {
	var ae *admin.Error
	if errors.As(err, &ae) {
		if ae.Status == 401 || ae.Status == 403 {
			return fmt.Errorf("%s (set TINYSCALE_ADMIN_TOKEN or --token)", ae.Message)
		}
		return errors.New(ae.Message)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return fmt.Errorf("cannot reach tinyscale at %s (set TINYSCALE_ADMIN_URL or --url): %w", base, err)
	}
	return err
}

// newTable returns a writer aligning columns like `kubectl get`.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
}

// writeJSONOut prints v as indented JSON.
func writeJSONOut(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// formatLoad prints a load figure with two decimals.
func formatLoad(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// cellText makes s fit one table cell: "-" when empty, one line, at most
// max runes.
func cellText(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}
