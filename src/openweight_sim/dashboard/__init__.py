"""The interactive dashboard (Mesa SolaraViz) and the ``openweight-sim dashboard`` command.

One idea per module, data flowing one way (sidebar → model → frames → panels):

* :mod:`.controls`: the sidebar's parameters and how they become scenario overrides.
* :mod:`.market`: the dashboard's model, a run and its no-open-weights counterfactual.
* :mod:`.figures`: the plot panels (drawn by :mod:`openweight_sim.plots`) as PNG bytes.
* :mod:`.summary`: the summary card's HTML.
* :mod:`.page`: the Solara components and the page (``solara run openweight_sim.app``).
* :mod:`.server`: the ``dashboard`` command, which runs the Solara server as a child.

Every CLI call imports this package, so it imports only :mod:`.server` (standard library);
Solara and Mesa's visualization load in the server process.
"""

from openweight_sim.dashboard.server import (
    APP_MODULE,
    DEFAULT_HOST,
    DEFAULT_PORT,
    cmd_dashboard,
    preflight,
    register,
    server_command,
    server_env,
)

__all__ = [
    "APP_MODULE",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "cmd_dashboard",
    "preflight",
    "register",
    "server_command",
    "server_env",
]
