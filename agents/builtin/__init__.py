"""Built-in agents; importing this package registers them."""
from agents.builtin import (baselines, emodistill_agent, emotional, eq_negotiator, eq_negotiator_v1,  # noqa: F401
                            personas, vanilla)
