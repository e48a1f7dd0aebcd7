"""What every layer uses: user-facing errors and exit codes, secret masking in printed text, atomic file writes, fault injection for the reliability tests."""
