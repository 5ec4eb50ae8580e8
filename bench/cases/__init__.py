"""One module per bench case, each defining ``CASE`` (see ``bench.harness``)."""
