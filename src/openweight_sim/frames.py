"""The model's output tables: tidy DataFrames read from a run's records and DataCollector.

A mixin of :class:`openweight_sim.model.OpenWeightMarket` (one idea: turning what a run
recorded into tables; nothing here changes the model).
"""

from __future__ import annotations

from typing import Any

from openweight_sim.hosts import HostingProvider
from openweight_sim.scenario import quarter_label


class OutputFrames:
    """Per-quarter, per-agent and per-option tables of a run (``*_frame`` methods)."""

    datacollector: Any
    offer_records: list[dict[str, Any]]
    demand_records: list[dict[str, Any]]
    releases: Any

    def quarters_frame(self):
        """Per-quarter model reporters as a tidy DataFrame indexed 0..T−1."""
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True)

    def offers_frame(self):
        """Per-option, per-quarter table (price, cost, tokens, revenue)."""
        import pandas as pd

        return pd.DataFrame(self.offer_records)

    def demand_frame(self):
        """Who buys what: tokens and spend per quarter by segment, workload, taste and server.

        One row per (quarter, segment, workload, taste type, lab, tier, option kind, open
        weights); see :func:`openweight_sim.booking.demand_rows`.
        """
        import pandas as pd

        return pd.DataFrame(self.demand_records)

    def labs_frame(self):
        """Per-lab, per-quarter table."""
        from openweight_sim.agents import Lab

        df = self.datacollector.get_agenttype_vars_dataframe(Lab)
        return df.reset_index().drop(columns=["AgentID"], errors="ignore")

    def hosts_frame(self):
        """Per-host, per-quarter table."""
        df = self.datacollector.get_agenttype_vars_dataframe(HostingProvider)
        return df.reset_index().drop(columns=["AgentID"], errors="ignore")

    def releases_frame(self):
        """All releases so far as a table."""
        import pandas as pd

        rows = [
            {
                "quarter": quarter_label(r.quarter),
                "lab": r.lab,
                "name": r.name,
                "tier": r.tier,
                "quality": r.quality,
                "coding": r.coding,
                "total_params_b": r.total_b,
                "active_params_b": r.active_b,
                "moe_leverage": r.leverage,
                "open_weights": r.open_weights,
                "license": r.license,
                "origin": r.origin,
                "historical": r.historical,
            }
            for r in self.releases.values()
        ]
        return pd.DataFrame(rows)
