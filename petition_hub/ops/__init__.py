"""What an operator runs: the command line and its tools (rules, dead letters, the report, ACLs,
the calendar, erasure requests). Nothing in runtime, agents, service or domain imports from
here."""
