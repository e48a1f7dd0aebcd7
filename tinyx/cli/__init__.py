"""The command line: what every entry point does first (environment), the tools' one grammar (args), and the
`tinyx` command that runs them (main)."""
