"""What an operator runs: the command line and its tools (rules, dead letters, the report, ACLs,
the calendar). Nothing in runtime, agents or domain imports from here."""
