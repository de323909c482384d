"""Built-in agents; importing this package registers them."""
from agents.builtin import baselines, emodistill_agent, emotional, eq_negotiator, personas, vanilla  # noqa: F401
