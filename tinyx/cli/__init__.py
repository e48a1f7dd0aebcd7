"""The command line: the `tinyx` command (main.py), the tools' one grammar (args.py), and what every entry point
does first (entry.py: .env, the one-line hint outside tinyx's environment)."""
