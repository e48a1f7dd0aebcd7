"""The command line: what every entry point does first (environment, `--help`)."""
