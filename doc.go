// Command herald publishes a folder of Jekyll-style Markdown posts as RSS 2.0,
// Atom 1.0 and JSON Feed 1.1, and emails each new post's TLDR section to the
// confirmed subscribers, once, reliably. See README.md.
//
// This package is the command line: [Main] parses the flags, loads the one
// typed [Config] (each package decodes and validates its own section), opens
// the store the [state] section names (openStore: the one place that knows
// the backends) and assembles the packages for each command: build, run,
// check, preview, send, subscribers, bounces, status. It is the only
// importer of go-toml.
package main
