package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelp is one command (or subcommand) of the usage: its arguments
// after its flags, and what it does.
type commandHelp struct {
	name, args, what string
}

// commands lists every command and subcommand, in the order of the usage.
// A command's flags come from its own flag set (herald help COMMAND).
var commands = []commandHelp{
	{"init", "[-jekyll DIR] [-o FILE]", "write a commented config.toml (from a Jekyll site)"},
	{"build", "", "write the feeds once and exit"},
	{"run", "", "run the daemon"},
	{"check", "", "validate the configuration and every post"},
	{"preview", "[-html FILE] [POST]", "print the newsletter email (.eml) for a post"},
	{"send", "[-to ADDR] [-dry-run] [-retry-failed] [POST]", "send a post's newsletter now"},
	{"subscribers add", "[-pending] [-resubscribe] [-name NAME] ADDR...", "add subscribers (confirmed unless -pending)"},
	{"subscribers remove", "ADDR...", "unsubscribe; the delivery history stays"},
	{"subscribers forget", "ADDR...", "erase the address and its personal data; anonymous counts stay"},
	{"subscribers list", "[-status pending|confirmed|unsubscribed]", "list subscribers"},
	{"subscribers import", "[-pending] FILE|-", "add subscribers from CSV (email[,name])"},
	{"subscribers export", "[FILE|-]", "write every subscriber as CSV"},
	{"subscribers unsuppress", "ADDR...", "mail an address again after bounces"},
	{"bounces list", "[-since PERIOD]", "bounces, complaints and auto-replies taken in"},
	{"bounces show", "ADDR", "one address's bounce history"},
	{"bounces process", "FILE|-", "take in one bounce message"},
	{"state copy", "[-force] FROM TO", "copy a whole state between SQLite files and PostgreSQL URLs"},
	{"status", "", "what is due next, last scan, deliveries"},
	{"version", "", "print the version"},
	{"help", "[COMMAND [SUBCOMMAND]]", "print this help, or a command's"},
}

// usage is the program's usage, listing every command.
func usage() string {
	var b strings.Builder
	b.WriteString("Usage: herald [-config FILE] [-log-format text|json] [-log-level debug|info|warn|error] COMMAND [ARGS]\n\nCommands:\n")
	for _, c := range commands {
		line := "  " + c.name
		if c.args != "" {
			line += " " + c.args
		}
		if len(line) > 45 {
			fmt.Fprintf(&b, "%s\n%-46s%s\n", line, "", c.what)
		} else {
			fmt.Fprintf(&b, "%-46s%s\n", line, c.what)
		}
	}
	b.WriteString("\n-config defaults to ./config.toml, then /etc/herald/config.toml.\n" +
		"Each command takes its own flags: herald help COMMAND, or herald COMMAND -h.\n")
	return b.String()
}

// subcommandsUsage lists the subcommands of cmd ("subscribers", "bounces").
func subcommandsUsage(cmd string) string {
	var b strings.Builder
	for _, c := range commands {
		if strings.HasPrefix(c.name, cmd+" ") {
			fmt.Fprintf(&b, "  herald %s %s\n      %s\n", c.name, c.args, c.what)
		}
	}
	return "usage:\n" + b.String() + "Each has its own flags: herald help " + cmd + " SUBCOMMAND.\n"
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// flags returns the flag set of a command or subcommand (name as in
// commands). Parse it with parse: -h prints the command's usage and flags
// to standard output; a bad flag is a usageError carrying the same text.
func (m *Main) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors, once
	// The flag package calls Usage on errors too: parse prints the usage
	// for -h only.
	fs.Usage = func() {}
	return fs
}

// commandUsage is the usage of the command name with the flags of fs.
func commandUsage(fs *flag.FlagSet, name string) string {
	var b strings.Builder
	c := commandHelp{name: name}
	for _, x := range commands {
		if x.name == name {
			c = x
		}
	}
	fmt.Fprintf(&b, "usage: %s\n", strings.TrimSpace("herald "+c.name+" "+c.args))
	if c.what != "" {
		fmt.Fprintf(&b, "\n%s\n", c.what)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		b.WriteString("\nFlags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return b.String()
}

// parse parses a command's flags: flag.ErrHelp (exit 0) after printing
// the usage for -h, a usageError naming the command for a bad flag.
func (m *Main) parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	name := strings.TrimPrefix(fs.Name(), "herald ")
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(m.Stdout, commandUsage(fs, name))
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &usageError{msg: name + ": " + err.Error(), usage: commandUsage(fs, name)}
}

// noArgs parses the arguments of a command that takes none: -h prints its
// usage, anything else is bad usage.
func (m *Main) noArgs(name string) error {
	fs := m.flags(name)
	if err := m.parse(fs, m.Args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("%s takes no arguments, got %q", name, fs.Arg(0)), usage: commandUsage(fs, name)}
	}
	return nil
}

// runHelp is `herald help [COMMAND [SUBCOMMAND]]`: the usage, or the
// command's own (as COMMAND -h prints it).
func (m *Main) runHelp(ctx context.Context) error {
	if len(m.Args) == 0 {
		fmt.Fprint(m.Stdout, usage())
		return nil
	}
	cmd := m.Args[0]
	if cmd == "help" {
		fmt.Fprint(m.Stdout, commandUsage(flag.NewFlagSet("help", flag.ContinueOnError), "help"))
		return nil
	}
	known := false
	for _, c := range commands {
		known = known || c.name == cmd || strings.HasPrefix(c.name, cmd+" ")
	}
	if !known {
		return &usageError{msg: fmt.Sprintf("help: unknown command %q", cmd)}
	}
	m.Command, m.Args = cmd, append(append([]string{}, m.Args[1:]...), "-h")
	return m.Run(ctx)
}
