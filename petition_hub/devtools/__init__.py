"""Developer tools: what helps build, try and measure the hub, never what runs it.

- :mod:`~petition_hub.devtools.dev`: ``petition-hub dev``, the whole hub on one machine with a
  demo stream and demo units;
- :mod:`~petition_hub.devtools.bench`: ``petition-hub bench``, the data path's speed as ratios to
  same-process baselines;
- :mod:`~petition_hub.devtools.corpus`: the deterministic corpus of upstream messages (valid and
  broken) that the tests, the demo and the benchmark feed the hub (the contract's samples are
  data: :func:`petition_hub.data.load_samples`).

A worker does not import from here; the CLI does, lazily, for ``dev`` and ``bench``.
"""
