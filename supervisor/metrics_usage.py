"""Prometheus families for each session's token use (the `usage` of metrics.json).

Counters, as Prometheus means them: totals since the session was added (kept in the
inbox database, so a supervisor restart does not reset them). Cost has a sample only for
sessions where the CLI reported one; context figures are gauges, as of the last turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vai.supervisor.monitor_model import SessionMetrics


def usage_families(sessions: Iterable[SessionMetrics]) -> Iterator[Metric]:
    tokens = CounterMetricFamily(
        "vai_session_tokens",
        "tokens Claude used (the API's counts from Claude Code's transcript)",
        labels=["session", "kind"],
    )
    turns = CounterMetricFamily(
        "vai_session_usage_turns", "turns whose token use was counted", labels=["session"]
    )
    cost = CounterMetricFamily(
        "vai_session_cost_usd",
        "cost in US dollars as the Claude CLI reported it",
        labels=["session"],
    )
    context = GaugeMetricFamily(
        "vai_session_context_tokens",
        "prompt size of the last turn's last request",
        labels=["session"],
    )
    window = GaugeMetricFamily(
        "vai_session_context_window_tokens", "the model's context window, when known",
        labels=["session"],
    )  # fmt: skip
    for entry in sessions:
        usage = entry.usage
        if usage is None:
            continue
        number = str(entry.session)
        for kind, value in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
        ):
            tokens.add_metric([number, kind], value)
        turns.add_metric([number], usage.turns)
        if usage.cost_usd is not None:
            cost.add_metric([number], usage.cost_usd)
        context.add_metric([number], usage.context_tokens)
        if usage.context_window:
            window.add_metric([number], usage.context_window)
    yield from (tokens, turns, cost, context, window)
